"""The Debian packages scripts/build-deb.sh built (README "Install on Debian 12").

DEB_OUT:  its output directory (the .debs, .changes); DEB_TREE: the source
tree it built in (for the build's own xen-syms, null-rust.o and .config).
Checks what an administrator gets: versions that sort above Debian's, a
hypervisor config that differs from Debian's only in the null scheduler,
packages apt would install as they are, lintian clean of warnings and
errors, and that the hypervisor and xen-syms shipped are the ones built from
our object (the link-provenance and code-generation tests then run on that
tree). Booting the shipped hypervisor is test.sh's next step
(tests/system on the image this test unpacks, DEB_IMAGE).

Run: DEB_OUT=... DEB_TREE=... python3 -m unittest tests/package/test_package.py
"""

import glob
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from tests.system.support import CACHE

REPO = Path(__file__).resolve().parents[2]
DEBIAN_VERSION = os.environ.get("XEN_DEB_VERSION", "4.17.5+72-g01140da4e8-1")
HV = "xen-hypervisor-4.17-amd64"
PACKAGES = [HV, f"{HV}-dbg", "xen-hypervisor-common"]
# What the package's config may change against Debian's: the null scheduler
# itself, and the two options Xen 4.17 puts it behind.
# (Plus CONFIG_SCHED_CREDIT2_DEFAULT: the default-scheduler choice is only
# visible with EXPERT, so Debian's config has no line for it; the default
# itself, CONFIG_SCHED_DEFAULT, must be the same.)
NULL_OPTIONS = {"CONFIG_EXPERT", "CONFIG_UNSUPPORTED", "CONFIG_SCHED_NULL",
                "CONFIG_SCHED_NULL_RUST", "CONFIG_SCHED_CREDIT2_DEFAULT"}


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def config_values(path):
    """A Kconfig .config as {option: value}; "is not set" is "n"."""
    values = {}
    for line in Path(path).read_text().splitlines():
        if m := re.fullmatch(r"(CONFIG_\w+)=(.*)", line):
            values[m[1]] = m[2]
        elif m := re.fullmatch(r"# (CONFIG_\w+) is not set", line):
            values[m[1]] = "n"
    return values


def config_diff(ours, theirs):
    """Options whose value differs (absent counts as "n")."""
    return {o: (theirs.get(o, "n"), ours.get(o, "n"))
            for o in ours.keys() | theirs.keys()
            if ours.get(o, "n") != theirs.get(o, "n")}


def build_id(elf):
    notes = run("readelf", "-n", str(elf))
    return re.search(r"Build ID: ([0-9a-f]+)", notes)[1]


def debian_deb(package):
    """Debian's own build of `package` at DEBIAN_VERSION, downloaded once."""
    debs = CACHE / "debs"
    pattern = f"{package}_{DEBIAN_VERSION}_*.deb"
    found = sorted(debs.glob(pattern))
    if not found:
        debs.mkdir(parents=True, exist_ok=True)
        run("apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
            f"{package}={DEBIAN_VERSION}", cwd=debs)
        found = sorted(debs.glob(pattern))
    return found[0]


class ConfigDiff(unittest.TestCase):
    """The comparison itself must notice a changed option."""

    def test_diff_sees_changes_and_treats_unset_as_n(self):
        with tempfile.TemporaryDirectory() as d:
            a, b = Path(d, "a"), Path(d, "b")
            a.write_text("CONFIG_X=y\n# CONFIG_Y is not set\nCONFIG_Z=\"s\"\n")
            b.write_text("CONFIG_X=y\nCONFIG_Z=\"t\"\nCONFIG_W=n\n")
            self.assertEqual(config_diff(config_values(b), config_values(a)),
                             {"CONFIG_Z": ('"s"', '"t"')})


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        out = os.environ.get("DEB_OUT")
        tree = os.environ.get("DEB_TREE")
        if not out or not tree:
            raise unittest.SkipTest("DEB_OUT and DEB_TREE name build-deb.sh's output and tree")
        cls.out, cls.tree = Path(out), Path(tree)
        changes = sorted(cls.out.glob("xen_*_amd64.changes"))
        assert len(changes) == 1, f"one .changes in {out}, not {changes}"
        cls.changes = changes[0]
        cls.version = cls.changes.name.split("_")[1]
        cls.debs = {p: cls.out / f"{p}_{cls.version}_amd64.deb" for p in PACKAGES}
        cls.root = Path(tempfile.mkdtemp(prefix="deb-root-"))
        for deb in cls.debs.values():
            run("dpkg-deb", "-x", str(deb), str(cls.root))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_1_versions_sort_above_debians(self):
        for p, deb in self.debs.items():
            self.assertEqual(run("dpkg-deb", "-f", str(deb), "Package").strip(), p)
            self.assertEqual(run("dpkg-deb", "-f", str(deb), "Version").strip(), self.version)
        subprocess.run(["dpkg", "--compare-versions", self.version, "gt", DEBIAN_VERSION],
                       check=True)

    def test_2_config_differs_from_debians_only_in_null(self):
        ours = config_values(self.root / "boot/xen-4.17-amd64.config")
        with tempfile.TemporaryDirectory() as d:
            run("dpkg-deb", "-x", str(debian_deb(HV)), d)
            theirs = config_values(Path(d, "boot/xen-4.17-amd64.config"))
        diff = config_diff(ours, theirs)
        self.assertEqual(set(diff), NULL_OPTIONS, f"differs from Debian's: {diff}")
        self.assertEqual(ours["CONFIG_SCHED_CREDIT2_DEFAULT"], "y", "default scheduler")
        self.assertEqual(ours["CONFIG_SCHED_DEFAULT"], theirs["CONFIG_SCHED_DEFAULT"])

    def test_3_apt_would_install_them(self):
        # A simulation against this machine's apt state: dependencies
        # resolve, nothing is written.
        out = run("apt-get", "install", "-s", "--no-install-recommends",
                  *(str(d) for d in self.debs.values()))
        for p in PACKAGES:
            self.assertRegex(out, rf"Inst {re.escape(p)} .*\({re.escape(self.version)} ",
                             f"apt would not install {p}")

    def test_4_lintian_has_no_warnings_or_errors(self):
        res = subprocess.run(["lintian", "--fail-on", "none", str(self.changes)],
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        bad = [l for l in res.stdout.splitlines() if re.match(r"[EW]: ", l)]
        self.assertEqual(bad, [], "lintian:\n" + res.stdout)

    def test_5_shipped_binaries_are_the_built_ones(self):
        xen = self.tree / "xen"
        with gzip.open(self.root / "boot/xen-4.17-amd64.gz") as f:
            self.assertEqual(f.read(), (xen / "xen").read_bytes(),
                             "/boot/xen-4.17-amd64.gz is not the tree's xen")
        # dh_dwz compresses the -dbg copy's DWARF; the link is the same.
        self.assertEqual(build_id(self.root / "usr/lib/debug/boot/xen-syms-4.17-amd64"),
                         build_id(xen / "xen-syms"),
                         "the -dbg package's xen-syms is not the tree's")
        self.assertEqual(config_values(self.root / "boot/xen-4.17-amd64.config"),
                         config_values(xen / ".config"))
        # Built by Debian's rustc (the .comment rustc leaves in the object).
        comment = run("readelf", "-p", ".comment", str(xen / "common/sched/null-rust.o"))
        rustc = run("/usr/bin/rustc", "--version").split()[1]
        self.assertIn(f"rustc version {rustc}", comment)

    def test_7_a_changed_vendored_crate_fails_with_cargos_checksum(self):
        # The build's offline crate source (debian/cargo-home), once as
        # built and once with one file of one crate changed: cargo must
        # refuse the second, naming the file.
        home = self.tree / "debian/cargo-home"
        crate = "static_assertions-1.1.0"
        with tempfile.TemporaryDirectory() as d:
            vendor = Path(d, "vendor")
            vendor.mkdir()
            for link in (home / "vendor").iterdir():
                (vendor / link.name).symlink_to(link.resolve())
            config = (home / "config.toml").read_text().replace(str(home), d)
            Path(d, "config.toml").write_text(config)

            def build(target):
                # Each in its own target directory: cargo checks a
                # directory source's files when it builds from them.
                return subprocess.run(
                    ["cargo", "build", "--locked", "-p", "static_assertions",
                     "--target-dir", str(Path(d, target))],
                    cwd=self.tree / "nullrs", capture_output=True, text=True,
                    env={**os.environ, "PATH": "/usr/bin:/bin", "CARGO_HOME": d,
                         "RUSTC_BOOTSTRAP": "1"})
            res = build("as-built")
            self.assertEqual(res.returncode, 0, res.stderr)
            (vendor / crate).unlink()
            shutil.copytree(home / "vendor" / crate, vendor / crate)
            with open(vendor / crate / "src/lib.rs", "a") as f:
                f.write("// changed\n")
            res = build("changed")
            self.assertNotEqual(res.returncode, 0, "cargo built a changed crate")
            self.assertIn(f"the listed checksum of `{vendor / crate / 'src/lib.rs'}` has changed",
                          res.stderr)

    def test_6_image_for_the_boot_tests(self):
        # Unpacked where test.sh's boot step finds it (DEB_IMAGE), with the
        # package's config beside it (tests/system read .config there).
        dest = CACHE / "deb" / "boot"
        dest.mkdir(parents=True, exist_ok=True)
        with gzip.open(self.root / "boot/xen-4.17-amd64.gz") as f:
            (dest / "xen").write_bytes(f.read())
        shutil.copy(self.root / "boot/xen-4.17-amd64.config", dest / ".config")


if __name__ == "__main__":
    unittest.main()
