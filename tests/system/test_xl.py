"""Drive Xen's toolstack (`xl`) in a QEMU-booted dom0: guests on `null`.

Boots the dom0 from $CACHE/dom0/initrd-xl.gz (scripts/make-toolstack.sh):
xenstored and xenconsoled running, a shell on the console that
`XenQemu.sh()` types into, and a PV test guest started with `xnr-guest`.

Environment: as test_boot.py (XEN_IMAGE, XEN_FLAVOUR, XEN_LOG_TAG,
XEN_NULL_CACHE).
"""

import contextlib
import os
import re
import subprocess
import sys
import time
import unittest
from pathlib import Path

from qemu import XenQemu
from test_boot import parse_cpulist, parse_null_dump

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XEN_NULL_CACHE", "/var/cache/xen-null-rs"))
XEN_IMAGE = os.environ.get("XEN_IMAGE")
FLAVOUR = os.environ.get("XEN_FLAVOUR")

# Printed by the dom0 /init (scripts/make-toolstack.sh).
TOOLSTACK = r"XEN-NULL-RS: toolstack (ready|failed: .*)\n"

# A TCG boot to the toolstack takes 20-30 s, a guest ~15 s from `xl create`
# to its init; allow for a machine shared with other QEMUs.
BOOT_TIMEOUT = 300
GUEST_TIMEOUT = 240
LOG_TAIL_LINES = 80


def setUpModule():
    if XEN_IMAGE:
        # Idempotent and cached; builds initrd-xl.gz too.
        subprocess.run([str(REPO / "scripts" / "make-dom0.sh")], check=True,
                       stdout=subprocess.DEVNULL)


def pool_sections(dump):
    """Split an 'r' dump into {cpupool id: text of its part}."""
    parts = re.split(r"^\(XEN\) Cpupool (\d+):.*\n", dump, flags=re.MULTILINE)
    return {int(pool): text for pool, text in zip(parts[1::2], parts[2::2])}


def xl_field(output, name):
    """The value of `name : value` in `xl info`-style output."""
    m = re.search(rf"^{re.escape(name)}\s*: (.*)$", output, re.MULTILINE)
    if not m:
        raise AssertionError(f"no {name!r} in:\n{output}")
    return m[1].strip()


@unittest.skipUnless(XEN_IMAGE, "XEN_IMAGE is not set: nothing to boot "
                     "(point it at a built xen/xen)")
class XlScenarios(unittest.TestCase):

    @contextlib.contextmanager
    def boot(self, xen_cmdline, smp="4"):
        """Boot to a running toolstack; on any failure dump the log tail."""
        name = self.id().rsplit(".", 1)[-1]
        tag = os.environ.get("XEN_LOG_TAG", FLAVOUR)
        log_path = CACHE / "logs" / f"{tag}-{name}.log"
        vm = XenQemu(XEN_IMAGE, CACHE / "dom0" / "vmlinuz",
                     CACHE / "dom0" / "initrd-xl.gz", xen_cmdline=xen_cmdline,
                     smp=smp, log_path=log_path)
        try:
            ready = vm.wait_for(TOOLSTACK, BOOT_TIMEOUT)
            if ready[1] != "ready":
                self.fail(f"dom0: toolstack {ready[1]}")
            self.log(f"toolstack ready after "
                     f"{time.monotonic() - vm.started:.1f} s")
            yield vm
        except BaseException:
            tail = vm.text.splitlines()[-LOG_TAIL_LINES:]
            print(f"\n----- last {len(tail)} lines of {log_path} -----",
                  *tail, "----- end of serial log -----",
                  sep="\n", file=sys.stderr)
            raise
        finally:
            vm.stop()

    def log(self, message):
        name = self.id().rsplit(".", 1)[-1]
        print(f"\n  [{name}] {message}", file=sys.stderr, flush=True)

    def start_guest(self, vm, name, mode, vcpus, *xl_settings):
        """`xl create` a test guest and wait for its init; return its domid."""
        start = time.monotonic()
        vm.sh(f"xnr-guest {name} {mode} {vcpus} {' '.join(xl_settings)}",
              timeout=GUEST_TIMEOUT)
        up = vm.sh(f"xnr-wait {name} {GUEST_TIMEOUT}", timeout=GUEST_TIMEOUT + 30)
        self.assertIn(f"nproc={vcpus} mode={mode}", up)
        self.log(f"guest {name} up {time.monotonic() - start:.1f} s "
                 f"after xl create")
        return int(vm.sh(f"xl domid {name}"))

    def null_dump(self, vm):
        """The state of the one cpupool run by null, from the 'r' dump, as
        parse_null_dump returns it, plus "cpus": the pool's pCPUs."""
        sections = [text for text in pool_sections(vm.dump_runq()).values()
                    if "Scheduler: null Scheduler (null)" in text]
        self.assertEqual(len(sections), 1, "expected one null cpupool")
        info = parse_null_dump(sections[0])
        cpus = re.search(r"^\(XEN\) Cpus: (.*)$", sections[0], re.MULTILINE)
        info["cpus"] = parse_cpulist(cpus[1])
        return info

    def null_dump_without(self, vm, domid, timeout=60):
        """null_dump, once domain `domid` has left the scheduler.

        `xl destroy` returns before it has: Xen removes a dead domain's
        units (remove_unit) only in complete_domain_destroy(), an RCU
        callback that runs later.
        """
        deadline = time.monotonic() + timeout
        while domid in (info := self.null_dump(vm))["domains"]:
            if time.monotonic() > deadline:
                self.fail(f"d{domid} still in the null dump {timeout} s "
                          f"after xl destroy: {info['domains']}")
            time.sleep(1)
        return info

    def check_own_pcpus(self, info, domid, pool_cpus, vcpus):
        """Each of the domain's `vcpus` units sits alone on a pCPU of the
        pool (null's promise while pCPUs are free), and null's free set is
        what the units leave."""
        units = info["domains"][domid]
        self.assertEqual(len(units), vcpus, f"units of d{domid}: {units}")
        placed = [pcpu for _, _, pcpu in units]
        self.assertNotIn(-1, placed, f"d{domid} has waiting units: {units}")
        self.assertEqual(len(set(placed)), vcpus, f"pCPU shared: {units}")
        self.assertTrue(set(placed) <= pool_cpus, f"outside the pool: {units}")
        taken = {pcpu for units in info["domains"].values()
                 for _, _, pcpu in units}
        self.assertEqual(info["cpus_free"], pool_cpus - taken)
        self.assertEqual(info["waitqueue"], "")
        for pcpu in placed:
            unit = [f"d{domid}v{u}" for _, u, p in units if p == pcpu]
            self.assertEqual(info["pcpus"][pcpu][1], unit[0], f"CPU[{pcpu}]")

    def test_sched_null_guest(self):
        """sched=null: a 2-vCPU guest takes two of the three free pCPUs."""
        with self.boot("sched=null dom0_max_vcpus=1") as vm:
            info = vm.sh("xl info")
            self.assertEqual(xl_field(info, "xen_scheduler"), "null")
            self.assertEqual(xl_field(info, "nr_cpus"), "4")
            self.assertRegex(vm.sh("xl cpupool-list"),
                             r"(?m)^Pool-0\s+4\s+null\s+y\s+1$")

            domid = self.start_guest(vm, "g1", "busy", 2)
            self.log("xl vcpu-list:\n" + vm.sh("xl vcpu-list"))
            info = self.null_dump(vm)
            self.assertEqual(info["cpus"], {0, 1, 2, 3})
            self.check_own_pcpus(info, domid, {0, 1, 2, 3}, 2)

            vm.sh("xl destroy g1")
            info = self.null_dump_without(vm, domid)
            self.assertEqual(list(info["domains"]), [0])
            (dom0_pcpu,) = [pcpu for _, _, pcpu in info["domains"][0]]
            self.assertEqual(info["cpus_free"], {0, 1, 2, 3} - {dom0_pcpu})

    def test_credit2_boot_null_pool(self):
        """Default (credit2) boot; pCPUs 2-3 moved to a null cpupool run a
        2-vCPU guest, one vCPU each."""
        with self.boot("dom0_max_vcpus=1") as vm:
            self.assertEqual(xl_field(vm.sh("xl info"), "xen_scheduler"),
                             "credit2")
            vm.sh("xl cpupool-cpu-remove Pool-0 2")
            vm.sh("xl cpupool-cpu-remove Pool-0 3")
            vm.sh("""xl cpupool-create 'name="nullpool"' 'sched="null"' """
                  """'cpus=["2","3"]'""")
            pools = vm.sh("xl cpupool-list")
            self.assertRegex(pools, r"(?m)^Pool-0\s+2\s+credit2\s+y\s+1$")
            self.assertRegex(pools, r"(?m)^nullpool\s+2\s+null\s+y\s+0$")
            domid = self.start_guest(vm, "g1", "busy", 2, "'pool=\"nullpool\"'")
            self.log("xl vcpu-list:\n" + vm.sh("xl vcpu-list"))
            info = self.null_dump(vm)
            self.assertEqual(info["cpus"], {2, 3})
            self.assertEqual(list(info["domains"]), [domid])
            self.check_own_pcpus(info, domid, {2, 3}, 2)

            vm.sh("xl destroy g1")
            info = self.null_dump_without(vm, domid)
            self.assertEqual(info["domains"], {})
            self.assertEqual(info["cpus_free"], {2, 3})


if __name__ == "__main__":
    unittest.main(verbosity=2)
