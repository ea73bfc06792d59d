#!/usr/bin/env python3
"""Disassembly of one counted function, each instruction with the number of
times it ran, from a benches/run.sh output directory.

    benches/annotate.py $CACHE/bench/<run> rust pick_res
    benches/annotate.py $CACHE/bench/<run> c pick_res
    benches/annotate.py $CACHE/bench/arm64-<run> rust null_rs_schedule

FUNC matches the function names of <flavour>.ranges (first containing
match; exact match preferred).  The disassembly is objdump's, of the
xen-syms the run counted ($XEN_NULL_CACHE/build/<flavour>-default, or
arm64-<flavour>-default with aarch64-linux-gnu-objdump for an arm64 run:
the same paths and tools xen_bench.py uses).  The architecture is the
run's (xen_bench.py names arm64 runs arm64-<workload>-<time>) unless
--arch says otherwise.  Instructions that never ran are shown with a blank
count, so the executed path stands out.
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from xen_bench import ARCHES, xen_dir  # noqa: E402


def run_arch(run):
    """The architecture a run directory was counted on, from its name."""
    for arch, a in ARCHES.items():
        if a["tree"] and run.resolve().name.startswith(a["tree"]):
            return arch
    return "x86_64"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="benches/run.sh output directory")
    ap.add_argument("flavour", choices=("rust", "c"))
    ap.add_argument("func", help="function name, or part of it")
    ap.add_argument("--arch", choices=sorted(ARCHES),
                    help="default: the run's (arm64- runs are arm64)")
    ap.add_argument("--xen-syms", type=Path,
                    help="default: $XEN_NULL_CACHE/build/[arm64-]<flavour>-default/xen/xen-syms")
    args = ap.parse_args()
    arch = args.arch or run_arch(args.run)

    funcs = []
    for line in (args.run / f"{args.flavour}.ranges").read_text().splitlines():
        if line.startswith("F "):
            _, start, end, name = line.split()
            funcs.append((int(start, 16), int(end, 16), name))
    exact = [f for f in funcs if f[2] == args.func]
    part = [f for f in funcs if args.func in f[2]]
    if not (exact or part):
        sys.exit(f"no function matching {args.func!r} in {args.flavour}.ranges")
    start, end, name = (exact or part)[0]

    counts = {}
    entries = 0
    for line in (args.run / f"{args.flavour}.counts").read_text().splitlines():
        f = line.split()
        if f[0] == "insn":
            counts[int(f[1], 16)] = int(f[2])
        elif f[0] == "func" and f[1] == name:
            entries = int(f[2])
    if not counts:
        sys.exit(f"{args.flavour}.counts has no per-instruction lines "
                 "(counted by an older plugin?)")

    syms = args.xen_syms or xen_dir(args.flavour, arch) / "xen-syms"
    dis = subprocess.run(
        [ARCHES[arch]["objdump"], "-d", "--no-show-raw-insn", "-C",
         f"--start-address={start:#x}", f"--stop-address={end:#x}", str(syms)],
        check=True, capture_output=True, text=True).stdout
    total = 0
    print(f"{name}: {entries} entries ({arch}, {syms})")
    for line in dis.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s*(.*)", line)
        if not m:
            continue
        addr = int(m.group(1), 16)
        n = counts.get(addr, 0)
        total += n
        per = f"{n / entries:6.2f}" if n and entries else " " * 6
        print(f"{n if n else '':>9} {per}  {addr - start:5x}: {m.group(2)}")
    print(f"total {total} instructions"
          + (f", {total / entries:.1f} per entry" if entries else ""))
    if entries and not total:
        sys.exit(f"{name} ran {entries} times but no instruction of {syms} "
                 "at its addresses did: not the xen-syms (or --arch) the run counted")


if __name__ == "__main__":
    main()
