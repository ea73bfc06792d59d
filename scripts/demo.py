#!/usr/bin/env python3
"""Boot a built Xen with sched=null under QEMU and show the scheduler at work.

Usage: demo.py [--arch x86_64|arm64] XEN_IMAGE [extra Xen command line...]
Prints Xen's scheduler lines, dom0 reaching init, then the `r` debug-key dump
(run queues), and powers the VM off. The full serial log is kept under
$XEN_NULL_CACHE/logs/demo-ARCH.log.
"""

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "system"))
from qemu import XenQemu  # noqa: E402
from support import CACHE, DOM0, DOM0_MARKER  # noqa: E402

SHOW = re.compile(r"Command line|scheduler|null|Scheduling granularity|XEN-NULL-RS")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(DOM0), default="x86_64")
    parser.add_argument("image")
    parser.add_argument("xen_args", nargs="*", help="more of Xen's command line")
    args = parser.parse_args()
    cmdline = " ".join(["sched=null dom0_max_vcpus=2"] + args.xen_args)
    log = CACHE / "logs" / f"demo-{args.arch}.log"
    dom0 = DOM0[args.arch]
    print(f"booting {args.image} ({args.arch}) on 4 pCPUs: {cmdline}", flush=True)
    with XenQemu(args.image, dom0.kernel, dom0.initrd, xen_cmdline=cmdline,
                 smp="4", log_path=log, arch=args.arch) as vm:
        vm.wait_for(re.escape(DOM0_MARKER), 600)
        for line in vm.text.splitlines():
            if SHOW.search(line):
                print(line)
        print("\n--- 'r' debug key: the null scheduler's dump ---")
        print(vm.dump_runq())
    print(f"full serial log: {log}")


if __name__ == "__main__":
    main()
