"""What the QEMU system tests (and the bench, the demo) share: paths, the
environment, the per-architecture facts of the dom0 and test guest that
scripts/make-dom0.sh and scripts/make-toolstack.sh build, the markers
their init scripts print, and the parsers of Xen's dumps.

Environment:
  XEN_IMAGE       the `xen` binary to boot (tests skip without it)
  XEN_FLAVOUR     `rust` or `c`: which null scheduler implementation it contains
  XEN_LOG_TAG     names the serial logs (default: XEN_FLAVOUR)
  XEN_NULL_CACHE  cache directory (default /var/cache/xen-null-rs): dom0
                  kernels/initrds come from dom0/, serial logs go to logs/
  XEN_ARCH        `x86_64` (default) or `arm64`: the machine QEMU emulates
                  (qemu.py); arm64's dom0 is in dom0/arm64/
  XEN_CONFIG      the build's .config (default: next to XEN_IMAGE): tests
                  of optional features run only where they are configured

Stdlib only; importable without any of these set.
"""

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The one default of the cache directory (scripts/lib.sh has the shell's).
CACHE = Path(os.environ.get("XEN_NULL_CACHE", "/var/cache/xen-null-rs"))
XEN_IMAGE = os.environ.get("XEN_IMAGE")
FLAVOUR = os.environ.get("XEN_FLAVOUR")
ARCH = os.environ.get("XEN_ARCH", "x86_64")
XEN_CONFIG = os.environ.get("XEN_CONFIG") or (
    str(Path(XEN_IMAGE).parent / ".config") if XEN_IMAGE else None)
LOG_TAIL_LINES = 80


def log_tag(default=None):
    """XEN_LOG_TAG, else `default` (callers pass FLAVOUR, "xen", ...)."""
    return os.environ.get("XEN_LOG_TAG", default)


class Dom0:
    """What scripts/make-dom0.sh (and make-toolstack.sh) build for one
    architecture, and how its test guest differs."""

    def __init__(self, arch, subdir, kernel, guest_cfg, guest_type):
        self.arch = arch
        out = CACHE / "dom0" / subdir
        self.kernel = out / kernel          # dom0's (and the guests') kernel
        self.initrd = out / "initrd.gz"     # marker init (test_boot)
        self.initrd_xl = out / "initrd-xl.gz"  # toolstack (test_xl)
        self.guest_cfg = guest_cfg          # in dom0 (scripts/dom0/)
        self.guest_type = guest_type        # xl's type= of the test guest


DOM0 = {
    # PV guests, the kernel ELF taken out of the bzImage.
    "x86_64": Dom0("x86_64", "", "vmlinuz", "/guest/pv.cfg", "pv"),
    # Arm has no PV guests: PVH, the Image as it is.
    "arm64": Dom0("arm64", "arm64", "Image", "/guest/pvh.cfg", "pvh"),
}


def configured(option):
    """Whether the build's .config sets `option`=y."""
    if not XEN_CONFIG or not Path(XEN_CONFIG).is_file():
        return False
    return f"{option}=y" in Path(XEN_CONFIG).read_text().splitlines()


# -- markers: printed by the dom0 and guest /init scripts of make-dom0.sh
# and make-toolstack.sh (its files in scripts/dom0/) --

# make-dom0.sh's initrd /init, and the toolstack dom0's.
DOM0_MARKER = "XEN-NULL-RS: dom0 init reached"
DOM0_NPROC = r"XEN-NULL-RS: nproc=(\d+) cpuinfo_processors=(\d+)"
# The toolstack dom0's /init, once the toolstack runs (or a step failed).
TOOLSTACK = r"XEN-NULL-RS: toolstack (ready|failed: .*)\n"
# Printed once by the Rust implementation right after the C banner.
RUST_BANNER = "null: Rust implementation"


# -- parsers of Xen's debug-key output -----------------------------------

def parse_perf_counters(text):
    """{name: TOTAL} of the plain counters in a 'p' dump."""
    return {m[1].strip(): int(m[2]) for m in
            re.finditer(r"^\(XEN\) (\S.*?)\s+TOTAL\[\s*(\d+)\]", text,
                        re.MULTILINE)}


def parse_cpulist(text):
    """Parse Xen's `%*pbl` cpu list ("", "2", "0,2", "0-1,3") into a set."""
    cpus = set()
    for part in filter(None, text.strip().split(",")):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def parse_null_dump(dump):
    """Pick the null scheduler's parts out of an 'r' dump.

    Returns a dict with:
      scheduler   the "Scheduler: ..." name
      granularity (mode, CPUs per sched-resource) for cpupool 0
      cpus_free   set of free pCPUs (as null tracks them: resource masters)
      domains     {domid: [(domid, unit_id, pcpu), ...]}, pcpu -1 = waiting
      waitqueue   the text after "Waitqueue:" (empty when nothing waits)
      pcpus       {cpu: (sibling set, unit "dNvM" or None)} for each
                  sched-resource, from null's per-CPU lines
    and, from the Rust build's additions (absent from null.c's dump: then
    empty / None):
      waiting     {"dNvM": (ms waited, set of pCPUs it may run on)}
      totals      {"waits": int, "units": int, "pCPUs": int,
                   "admission": "wait"|"strict"}
    """
    # Xen's serial output is shared with dom0's console: a dom0 prompt can
    # land at the start of a line of the dump ("/ # (XEN) CPU[02] ..."),
    # so drop whatever precedes Xen's prefix.
    lines = [re.sub(r"^.*?\(XEN\) ?", "", line) for line in dump.splitlines()]
    info = {"scheduler": None, "granularity": None, "cpus_free": None,
            "domains": {}, "waitqueue": None, "pcpus": {}, "waiting": {},
            "totals": None}
    domid = None
    for line in lines:
        if m := re.match(r"Scheduler: (.*)$", line):
            info["scheduler"] = m[1]
        elif m := re.match(r"Scheduling granularity: (\w+), (\d+) CPUs? ", line):
            info["granularity"] = (m[1], int(m[2]))
        elif m := re.match(r"\s*cpus_free = (.*)$", line):
            info["cpus_free"] = parse_cpulist(m[1])
        elif m := re.match(r"\s*Domain: (\d+)$", line):
            domid = int(m[1])
            info["domains"][domid] = []
        elif m := re.match(r"\s*\d+: \[(\d+)\.(\d+)\] pcpu=(-?\d+)$", line):
            info["domains"][domid].append((int(m[1]), int(m[2]), int(m[3])))
        elif m := re.match(r"Waitqueue: ?(.*)$", line):
            info["waitqueue"] = m[1].strip()
        elif m := re.match(r"\s*(d\d+v\d+): waiting (\d+) ms, may run on "
                           r"\{([^}]*)\}$", line):
            info["waiting"][m[1]] = (int(m[2]), parse_cpulist(m[3]))
        elif m := re.match(r"\s*waits = (\d+), units = (\d+), pCPUs = (\d+), "
                           r"admission = (\w+)$", line):
            info["totals"] = {"waits": int(m[1]), "units": int(m[2]),
                              "pCPUs": int(m[3]), "admission": m[4]}
        elif m := re.match(r"CPU\[(\d+)\] sibling=\{([^}]*)\}, core=\{[^}]*\}"
                           r"(?:, unit=(d\d+v\d+))?$", line):
            info["pcpus"][int(m[1])] = (parse_cpulist(m[2]), m[3])
    return info
