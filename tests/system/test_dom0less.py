"""dom0less on arm64: Xen builds the domUs the device tree describes.

No dom0 (Xen 4.17's "dom0less mode": /chosen has no dom0 kernel), so no
toolstack. The device tree is QEMU's own (`-machine ...,dumpdtb=`),
decompiled with dtc, given /chosen/domU* nodes, and compiled again (a dtc
error fails the test with its message). Every domU runs Debian's arm64
Image with the marker initrd of scripts/make-dom0.sh --arch arm64 on a
vpl011 UART (console=ttyAMA0), whose output Xen prints in its own log
("(XEN) DOMn: ..."; the domain serial input is switched to prints bare).

Environment: XEN_IMAGE (an arm64 debug build: domU consoles and ASSERTs),
XEN_FLAVOUR, XEN_LOG_TAG, XEN_NULL_CACHE as test_boot.
"""

import re
import subprocess
import sys
import time
import unittest
from pathlib import Path

from qemu import Arm64, XenQemu
from support import (CACHE, DOM0, FLAVOUR, LOG_TAIL_LINES, REPO, XEN_IMAGE,
                     configured, log_tag, parse_null_dump)

KERNEL, INITRD = DOM0["arm64"].kernel, DOM0["arm64"].initrd
SMP = 4
MEM = "2G"
# Where -device loader puts the shared kernel and initrd (Xen lets domUs
# share a module; Arm64's guest-loader addresses, clear of Xen and the DTB).
KERNEL_ADDR = Arm64.DOM0_KERNEL_ADDR
INITRD_ADDR = Arm64.DOM0_INITRD_ADDR
MARKER = r"XEN-NULL-RS: nproc=(\d+) cpuinfo_processors=(\d+)"
BOOT_TIMEOUT = 300


def machine_dts(workdir):
    """QEMU's virt device tree for this machine, as dts text."""
    dtb = workdir / "virt.dtb"
    subprocess.run([Arm64.QEMU, "-machine", f"{Arm64.MACHINE},dumpdtb={dtb}",
                    "-cpu", Arm64.CPU, "-smp", str(SMP), "-m", MEM,
                    "-nographic"], check=True, capture_output=True)
    return subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(dtb)],
                          check=True, capture_output=True, text=True).stdout


def domu_node(name, vcpus, mem_mb=256, pool=None):
    """A /chosen/NAME node: `vcpus` vCPUs, a vpl011, the shared modules."""
    ksize, isize = KERNEL.stat().st_size, INITRD.stat().st_size
    pool_prop = f"\t\t\tdomain-cpupool = <&{pool}>;\n" if pool else ""
    return f"""
		{name} {{
			compatible = "xen,domain";
			#address-cells = <0x2>;
			#size-cells = <0x1>;
			memory = <0x0 {mem_mb * 1024:#x}>;
			cpus = <{vcpus}>;
			vpl011;
{pool_prop}			module@{KERNEL_ADDR:x} {{
				compatible = "multiboot,kernel", "multiboot,module";
				reg = <0x0 {KERNEL_ADDR:#x} {ksize:#x}>;
				bootargs = "console=ttyAMA0 rdinit=/init";
			}};
			module@{INITRD_ADDR:x} {{
				compatible = "multiboot,ramdisk", "multiboot,module";
				reg = <0x0 {INITRD_ADDR:#x} {isize:#x}>;
			}};
		}};
"""


def build_dtb(xen_cmdline, chosen_nodes, out):
    """Add Xen's command line (with -dtb, QEMU's -append does not reach
    /chosen) and `chosen_nodes` (dts text) to QEMU's tree, compile to `out`.
    Fails (AssertionError) with dtc's message if the result does not
    compile."""
    workdir = out.parent
    dts = machine_dts(workdir)
    # Labels on the CPU nodes, for cpupool-cpus = <&xnr_cpuN ...>.
    dts = re.sub(r"^(\t+)cpu@(\d+) \{", r"\1xnr_cpu\2: cpu@\2 {", dts,
                 flags=re.MULTILINE)
    # At the end of /chosen: dtc wants its properties before any subnode.
    args = f'\t\txen,xen-bootargs = "{xen_cmdline}";\n'
    dts, n = re.subn(r"^(\tchosen \{\n)((?:\t\t.*\n)*?)(\t\};\n)",
                     lambda m: m[1] + args + m[2] + chosen_nodes + m[3], dts,
                     count=1, flags=re.MULTILINE)
    assert n == 1, "QEMU's device tree has no /chosen node"
    src = out.with_suffix(".dts")
    src.write_text(dts)
    res = subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(out),
                          str(src)], capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(f"dtc rejected {src}:\n{res.stderr}")
    return out


@unittest.skipUnless(XEN_IMAGE, "XEN_IMAGE is not set: nothing to boot")
class Dom0less(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        subprocess.run([str(REPO / "scripts" / "make-dom0.sh"), "--arch", "arm64"],
                       check=True, stdout=subprocess.DEVNULL)

    def boot(self, domus, xen_cmdline="sched=null", pools=""):
        """Boot the domUs [(name, vcpus), ...]; wait for each one's marker.
        Returns (vm, {domid: nproc}); the caller stops vm."""
        name = self.id().rsplit(".", 1)[-1]
        tag = log_tag(FLAVOUR)
        logs = CACHE / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        nodes = pools + "".join(domu_node(*d) for d in domus)
        dtb = build_dtb(f"{Arm64.XEN_CMDLINE_BASE} {xen_cmdline}", nodes,
                        logs / f"{tag}-{name}.dtb")
        vm = XenQemu(XEN_IMAGE, None, None, xen_cmdline=xen_cmdline,
                     smp=str(SMP), mem=2048, arch="arm64",
                     log_path=logs / f"{tag}-{name}.log",
                     extra_args=["-dtb", str(dtb),
                                 "-device", f"loader,file={KERNEL},addr={KERNEL_ADDR:#x}",
                                 "-device", f"loader,file={INITRD},addr={INITRD_ADDR:#x}"])
        try:
            # A domU Xen could not build stops the boot ("Panic ... Could
            # not set up DOMU guest") or logs why: fail at once on either.
            vm.wait_for(r"Xen dom0less mode detected|\(XEN\) Panic on CPU", 120)
            nproc = {}
            for _ in domus:
                m = vm.wait_for(rf"^(?:\(XEN\) DOM(\d+): )?{MARKER}"
                                r"|\(XEN\) Panic on CPU.*\n(?:.*\n){0,3}",
                                BOOT_TIMEOUT, since=getattr(self, "_pos", 0))
                self._pos = m.end()
                if m[0].startswith("(XEN) Panic"):
                    raise AssertionError(f"Xen panicked: {m[0]}")
                # The domain serial input goes to prints without prefix:
                # at the end of boot that is the first domU, d1.
                nproc[int(m[1] or 1)] = int(m[2])
            print(f"\n  [{name}] {len(domus)} domU markers after "
                  f"{time.monotonic() - vm.started:.1f} s", file=sys.stderr)
            return vm, nproc
        except BaseException as e:
            vm.after_failure(e, name)
            tail = vm.text.splitlines()[-LOG_TAIL_LINES:]
            print(f"\n----- last {len(tail)} lines -----", *tail, sep="\n",
                  file=sys.stderr)
            vm.stop()
            raise

    @staticmethod
    def dump(vm):
        """Switch serial input round to Xen (d1, d2, ... come first), then
        press 'r'; returns the dump."""
        vm.input_round_to_xen()
        pos = vm.position()
        vm.send(b"r")
        start = vm.wait_for(r"^.*sched_smt_power_savings:", 60, since=pos)
        vm.send(b"t")
        end = vm.wait_for(r"^.*Synced stime skew:", 60, since=start.end())
        return vm.text[start.start():end.start()]

    def test_three_domus_fit(self):
        """3 domUs, 1+1+2 vCPUs on 4 pCPUs: each vCPU on its own pCPU."""
        vm, nproc = self.boot([("domU1", 1), ("domU2", 1), ("domU3", 2)])
        try:
            self.assertEqual(nproc, {1: 1, 2: 1, 3: 2})
            info = parse_null_dump(self.dump(vm))
        finally:
            vm.stop()
        self.assertEqual(info["scheduler"], "null Scheduler (null)")
        self.assertEqual(sorted(info["domains"]), [1, 2, 3])
        placed = [p for units in info["domains"].values() for _, _, p in units]
        self.assertEqual(sorted(placed), [0, 1, 2, 3], info["domains"])
        self.assertEqual(info["cpus_free"], set())
        self.assertEqual(info["waitqueue"], "")
        if FLAVOUR == "rust":
            self.assertEqual(info["totals"]["units"], 4)

    def test_overcommit_waits(self):
        """3+3 vCPUs on 4 pCPUs: 4 placed, 2 in the waitqueue."""
        vm, nproc = self.boot([("domU1", 3), ("domU2", 3)])
        try:
            info = parse_null_dump(self.dump(vm))
        finally:
            vm.stop()
        units = [u for us in info["domains"].values() for u in us]
        placed = sorted(p for _, _, p in units if p >= 0)
        waiting = [f"d{d}v{v}" for d, v, p in units if p < 0]
        self.assertEqual(placed, [0, 1, 2, 3], info["domains"])
        self.assertEqual(len(waiting), 2, info["domains"])
        for unit in waiting:
            self.assertIn(unit, info["waitqueue"])
        if FLAVOUR == "rust":
            self.assertEqual(set(info["waiting"]), set(waiting))
        print(f"\n  waiting: {waiting}; domU nproc {nproc}", file=sys.stderr)


    @unittest.skipUnless(configured("CONFIG_BOOT_TIME_CPUPOOLS"),
                         "CONFIG_BOOT_TIME_CPUPOOLS is not set (tests/configs/"
                         "dom0less.config sets it)")
    def test_boot_time_cpupool_null(self):
        """Pool-0 credit2 on pCPUs 0-1, a null pool on 2-3 from the device
        tree; a 2-vCPU domU in the null pool gets one pCPU per vCPU there,
        a 1-vCPU domU stays in Pool-0."""
        pools = """
		xnr_pool0: cpupool0 {
			compatible = "xen,cpupool";
			cpupool-cpus = <&xnr_cpu0 &xnr_cpu1>;
			cpupool-sched = "credit2";
		};
		xnr_nullpool: nullpool {
			compatible = "xen,cpupool";
			cpupool-cpus = <&xnr_cpu2 &xnr_cpu3>;
			cpupool-sched = "null";
		};
"""
        vm, nproc = self.boot([("domU1", 2, 256, "xnr_nullpool"),
                               ("domU2", 1, 256, "xnr_pool0")],
                              xen_cmdline="sched=credit2", pools=pools)
        try:
            dump = self.dump(vm)
        finally:
            vm.stop()
        self.assertEqual(nproc, {1: 2, 2: 1})
        # The null pool's part of the dump: from its "Scheduler: null"
        # line to the next pool's header (or the end).
        m = re.search(r"^\(XEN\) Scheduler: null Scheduler \(null\)\n"
                      r"(?:.*\n)*?(?=^\(XEN\) Cpupool|\Z)", dump, re.MULTILINE)
        self.assertIsNotNone(m, "no null pool in the dump")
        info = parse_null_dump(m[0])
        self.assertEqual(list(info["domains"]), [1], info["domains"])
        self.assertEqual(sorted(p for _, _, p in info["domains"][1]), [2, 3])
        self.assertEqual(info["cpus_free"], set())
        self.assertEqual(info["waitqueue"], "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
