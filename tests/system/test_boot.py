"""Boot Xen with `sched=null` under QEMU and check the null scheduler's state.

Environment: XEN_IMAGE (required; the tests skip without it), XEN_FLAVOUR,
XEN_LOG_TAG, XEN_NULL_CACHE, XEN_ARCH, XEN_CONFIG: see support.py.
"""

import contextlib
import re
import subprocess
import sys
import time
import unittest
from pathlib import Path

from qemu import XenQemu
from support import (ARCH, CACHE, DOM0, DOM0_MARKER, DOM0_NPROC, FLAVOUR,
                     LOG_TAIL_LINES, REPO, RUST_BANNER, XEN_IMAGE, configured,
                     log_tag, parse_null_dump, parse_perf_counters)

# Generous: a TCG boot to the dom0 marker normally takes 11-30 s.
BOOT_TIMEOUT = 300

# Core granularity needs SMT siblings Xen can see.  With the default AMD
# qemu64 model Xen finds none (QEMU's TCG lacks topoext), so it reports
# "core, 1 CPU per sched-resource"; with an Intel vendor string it reads the
# threads from CPUID leaf 0xb.
SMT_CPU = "qemu64,+svm,vendor=GenuineIntel"


def setUpModule():
    if XEN_IMAGE:
        # Idempotent and cached: only the first run downloads and builds.
        subprocess.run([str(REPO / "scripts" / "make-dom0.sh"), "--arch", ARCH],
                       check=True)


@unittest.skipUnless(XEN_IMAGE, "XEN_IMAGE is not set: nothing to boot "
                     "(point it at a built xen/xen)")
class BootNullScheduler(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not Path(XEN_IMAGE).is_file():
            raise FileNotFoundError(f"XEN_IMAGE={XEN_IMAGE}: no such file")
        if FLAVOUR not in ("rust", "c"):
            raise ValueError(f"XEN_FLAVOUR must be 'rust' or 'c', not {FLAVOUR!r}")
        if ARCH not in DOM0:
            raise ValueError(f"XEN_ARCH must be one of {', '.join(DOM0)}, "
                             f"not {ARCH!r}")

    @contextlib.contextmanager
    def boot(self, xen_cmdline, smp, until=None, **kwargs):
        """Boot to the dom0 marker (or to the regex `until`, then yield
        (vm, match)); on any failure dump the log tail."""
        name = self.id().rsplit(".", 1)[-1]
        log_path = CACHE / "logs" / f"{log_tag(FLAVOUR)}-{name}.log"
        vm = XenQemu(XEN_IMAGE, DOM0[ARCH].kernel, DOM0[ARCH].initrd,
                     xen_cmdline=xen_cmdline,
                     smp=smp, log_path=log_path, arch=ARCH, **kwargs)
        try:
            if until is not None:
                yield vm, vm.wait_for(until, BOOT_TIMEOUT)
                return
            vm.wait_for(re.escape(DOM0_MARKER), BOOT_TIMEOUT)
            print(f"\n  [{name}] dom0 init reached after "
                  f"{time.monotonic() - vm.started:.1f} s", file=sys.stderr)
            yield vm
        except BaseException as e:
            vm.after_failure(e, name)
            tail = vm.text.splitlines()[-LOG_TAIL_LINES:]
            print(f"\n----- last {len(tail)} lines of {log_path} -----",
                  *tail, "----- end of serial log -----",
                  sep="\n", file=sys.stderr)
            raise
        finally:
            vm.stop()

    def assert_logged(self, needle, text, where="in the serial log"):
        """assertIn without echoing the whole log into the failure message."""
        if needle not in text:
            self.fail(f"{needle!r} not found {where}")

    def check_common_boot(self, vm, vcpus):
        """Checks shared by every boot: scheduler choice, banner, dom0 CPUs."""
        # Xen's own boot messages are all out once dom0 runs init.
        text = vm.text
        self.assert_logged("Using scheduler: null Scheduler (null)", text)
        init = text.find("Initializing null scheduler\n")
        self.assertNotEqual(init, -1, "null scheduler never initialized")
        if FLAVOUR == "rust":
            self.assert_logged(RUST_BANNER, text[init:],
                               "after 'Initializing null scheduler'")
        else:
            self.assertFalse(RUST_BANNER in text,
                             f"C build must not print {RUST_BANNER!r}")
        nproc = vm.wait_for(DOM0_NPROC, 60)
        self.assertEqual((int(nproc[1]), int(nproc[2])), (vcpus, vcpus),
                         "dom0 does not see the expected number of vCPUs")

    def check_null_dump(self, info, granularity, units, pcpus):
        """Checks on any null dump: it is null's, and dom0 is fully placed.
        The Rust build's dump adds the pool's totals (dom0's `units` on
        `pcpus` scheduling resources, nothing ever waited) to null.c's
        lines, which it keeps."""
        if FLAVOUR == "rust":
            self.assertEqual(info["totals"], {"waits": 0, "units": units,
                                              "pCPUs": pcpus,
                                              "admission": "wait"})
        else:
            self.assertIsNone(info["totals"], "null.c prints no totals")
        self.assertEqual(info["waiting"], {})
        self.assertEqual(info["scheduler"], "null Scheduler (null)")
        self.assertEqual(info["granularity"], granularity)
        self.assertIsNotNone(info["cpus_free"], "no 'cpus_free =' line")
        self.assertEqual(list(info["domains"]), [0], "expected dom0 only")
        self.assertEqual(info["waitqueue"], "", "units left in the waitqueue")
        self.assertTrue(info["pcpus"], "no per-CPU 'CPU[NN] sibling=' lines")

    def test_boot_sched_null(self):
        with self.boot("sched=null dom0_max_vcpus=2", smp="4") as vm:
            self.check_common_boot(vm, vcpus=2)
            info = parse_null_dump(vm.dump_runq())
            self.check_null_dump(info, ("cpu", 1), units=2, pcpus=4)

            units = info["domains"][0]
            self.assertEqual([u[:2] for u in units], [(0, 0), (0, 1)])
            placed = {pcpu for _, _, pcpu in units}
            self.assertEqual(len(placed), 2, f"vCPUs share a pCPU: {units}")
            self.assertTrue(placed <= {0, 1, 2, 3}, f"bad pCPU in {units}")
            self.assertEqual(info["cpus_free"], {0, 1, 2, 3} - placed)

            # One resource per pCPU; each dom0 vCPU owns the one it sits on.
            self.assertEqual(set(info["pcpus"]), {0, 1, 2, 3})
            for cpu, (siblings, unit) in info["pcpus"].items():
                self.assertEqual(siblings, {cpu})
                owner = [f"d0v{u}" for _, u, pcpu in units if pcpu == cpu]
                self.assertEqual(unit, owner[0] if owner else None,
                                 f"CPU[{cpu}] owner")

    @unittest.skipUnless(FLAVOUR == "rust",
                         "sched_null_admission exists in the Rust build only")
    def test_boot_strict_dom0_too_big(self):
        """sched_null_admission=strict with more dom0 vCPUs than pCPUs:
        Xen stops at boot, saying what to set, instead of booting a dom0
        with vCPUs it failed to create (x86 ignores a failed dom0 vCPU
        after the first) or that never run."""
        advice = (r"^\(XEN\) null: cpupool 0 has 4 pCPUs, too few for d0's "
                  r"vCPUs \(sched_null_admission=strict\): give it at most 4 "
                  r"\(dom0: dom0_max_vcpus=4\), or boot with "
                  r"sched_null_admission=wait\n")
        with self.boot("sched=null dom0_max_vcpus=5 sched_null_admission=strict",
                       smp="4", until=advice) as (vm, m):
            vm.wait_for(r"^\(XEN\) Panic on CPU \d+:\n\(XEN\) null: d0 does "
                        r"not fit in cpupool 0 \(sched_null_admission=strict\)\n",
                        60, since=m.end())
            print(f"\n  [test_boot_strict_dom0_too_big] {m[0].strip()}",
                  file=sys.stderr)
            self.assertNotIn(DOM0_MARKER, vm.text)

    @unittest.skipUnless(configured("CONFIG_PERF_COUNTERS"),
                         "CONFIG_PERF_COUNTERS is not set in the build")
    def test_boot_perf_counters(self):
        """The null hooks crank Xen's sched: counters (the 'p' key), as
        null.c's SCHED_STAT_CRANK()s do."""
        with self.boot("sched=null dom0_max_vcpus=2", smp="4") as vm:
            self.check_common_boot(vm, vcpus=2)
            counters = parse_perf_counters(vm.key_output(
                b"p", r"^.*Xen performance counters SHOW"))
            # alloc_udata: the 4 idle units twice (sched_init_vcpu() with
            # null as the boot scheduler, then schedule_cpu_add() as each
            # pCPU joins Pool-0), and dom0's 2 (seen on both builds).
            self.assertEqual(counters.get("sched: unit_alloc"), 10, counters)
            # dom0's vCPUs are created down and inserted offline, which
            # null.c's insert returns from before it counts.
            self.assertEqual(counters.get("sched: unit_insert"), 0, counters)
            self.assertGreater(counters.get("sched: specific scheduler", 0), 0,
                               "do_schedule never counted")
            wakes = sum(counters.get(f"sched: unit_wake_{k}", 0) for k in
                        ("running", "onrunq", "runnable", "not_runnable"))
            self.assertGreater(wakes, 0, "wake never counted")

    @unittest.skipIf(ARCH != "x86_64", "SMT siblings come from x86 CPUID "
                     "(SMT_CPU); Xen 4.17 on Arm sees no threads, so core "
                     "granularity has nothing to group")
    def test_boot_sched_null_gran_core(self):
        with self.boot("sched=null sched-gran=core dom0_max_vcpus=2",
                       smp="4,sockets=1,cores=2,threads=2", cpu=SMT_CPU) as vm:
            self.check_common_boot(vm, vcpus=2)
            self.assert_logged("Scheduling granularity: core, 2 CPUs per "
                               "sched-resource", vm.text)
            info = parse_null_dump(vm.dump_runq())
            self.check_null_dump(info, ("core", 2), units=1, pcpus=2)

            # Two cores of two threads: two sched-resources, named (and
            # printed) by their first CPU, 0 and 2.
            self.assertEqual({cpu: sib for cpu, (sib, _) in info["pcpus"].items()},
                             {0: {0, 1}, 2: {2, 3}})
            # dom0's 2 vCPUs form a single unit, which takes one core ...
            units = info["domains"][0]
            self.assertEqual(len(units), 1, f"expected one unit: {units}")
            _, unit_id, pcpu = units[0]
            self.assertEqual(unit_id, 0)
            self.assertIn(pcpu, (0, 2))
            self.assertEqual(info["pcpus"][pcpu][1], "d0v0")
            # ... and the other core is free and owns nothing.
            (other,) = {0, 2} - {pcpu}
            self.assertEqual(info["cpus_free"], {other})
            self.assertIsNone(info["pcpus"][other][1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
