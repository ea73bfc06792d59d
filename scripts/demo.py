#!/usr/bin/env python3
"""Boot a built Xen with sched=null under QEMU and show the scheduler at work.

Usage: demo.py XEN_IMAGE [extra Xen command line...]
Prints Xen's scheduler lines, dom0 reaching init, then the `r` debug-key dump
(run queues), and powers the VM off. The full serial log is kept under
$XEN_NULL_CACHE/logs/demo.log.
"""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "system"))
from qemu import XenQemu  # noqa: E402
from support import CACHE  # noqa: E402
SHOW = re.compile(r"Command line|scheduler|null|Scheduling granularity|XEN-NULL-RS")


def main():
    image = sys.argv[1]
    cmdline = " ".join(["sched=null dom0_max_vcpus=2"] + sys.argv[2:])
    log = CACHE / "logs" / "demo.log"
    print(f"booting {image} on 4 pCPUs: {cmdline}", flush=True)
    with XenQemu(image, CACHE / "dom0" / "vmlinuz", CACHE / "dom0" / "initrd.gz",
                 xen_cmdline=cmdline, smp="4", log_path=log) as vm:
        vm.wait_for(r"XEN-NULL-RS: dom0 init reached", 600)
        for line in vm.text.splitlines():
            if SHOW.search(line):
                print(line)
        print("\n--- 'r' debug key: the null scheduler's dump ---")
        print(vm.dump_runq())
    print(f"full serial log: {log}")


if __name__ == "__main__":
    main()
