"""What cannot be built stops at make time, with one line that names the
option and why, never deep inside cargo, bindgen or rustc.

    python3 -m unittest discover -s tests/kbuild

Runs kbuild/null-rust.mk on its own (the checks come before anything it
builds), and, if XEN_TREE points at a prepared Rust tree (its xen/.config
has CONFIG_SCHED_NULL_RUST=y), Xen's own make without the sources.
"""

import os
import re
import subprocess
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
XEN_TREE = os.environ.get("XEN_TREE")


def make_errors(stderr):
    """make's own error lines ("*** message.  Stop."), not the parents'
    "*** [target] Error N" that pass a failure up."""
    return [l for l in stderr.splitlines()
            if "*** " in l and not re.search(r"\*\*\* \[.*\] Error \d+", l)]


def make(*args, cwd=REPO):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


class NullRustMk(unittest.TestCase):

    def fragment(self, *args):
        return make("-f", "kbuild/null-rust.mk", f"NULL_RUST_SRC={REPO}",
                    "abs_objtree=/nonexistent", "obj=common/sched", *args)

    def assert_one_error(self, res, *needles):
        self.assertNotEqual(res.returncode, 0, res.stdout + res.stderr)
        errors = make_errors(res.stderr)
        self.assertEqual(len(errors), 1, res.stderr)
        for needle in needles:
            self.assertIn(needle, errors[0])
        return errors[0]

    def test_unsupported_architecture(self):
        line = self.assert_one_error(self.fragment("SRCARCH=riscv"),
                                     "CONFIG_SCHED_NULL_RUST=y", "riscv",
                                     "CONFIG_SCHED_NULL_C")
        self.assertRegex(line, r"supported: [a-z0-9 ]*x86")

    def test_no_cargo(self):
        self.assert_one_error(self.fragment("SRCARCH=x86", "CARGO=no-such-cargo"),
                              "CONFIG_SCHED_NULL_RUST=y needs no-such-cargo",
                              "CONFIG_SCHED_NULL_C")


@unittest.skipUnless(XEN_TREE, "XEN_TREE is not set (a prepared Rust tree)")
class XenMake(unittest.TestCase):

    def test_no_sources(self):
        xen = Path(XEN_TREE) / "xen"
        self.assertIn("CONFIG_SCHED_NULL_RUST=y",
                      (xen / ".config").read_text().splitlines())
        res = make("-C", str(xen), "NULL_RUST_SRC=/nonexistent/xen-null-rs",
                   "common/sched/")
        self.assertNotEqual(res.returncode, 0)
        errors = make_errors(res.stderr)
        self.assertEqual(len(errors), 1, res.stderr[-3000:])
        self.assertRegex(errors[0], r"CONFIG_SCHED_NULL_RUST=y: no xen-null-rs "
                         r"sources at /nonexistent/xen-null-rs .*CONFIG_SCHED_NULL_C")


if __name__ == "__main__":
    unittest.main(verbosity=2)
