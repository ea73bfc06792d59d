#!/usr/bin/env python3
"""Code-generation audit of the Rust null scheduler in an arm64 Xen build.

    audit_arm64.py --object common/sched/null-rust.o --xen-syms xen-syms

The x86 audit (audit.py) checks the x86 rules; on arm64 Xen compiles C with
-mgeneral-regs-only -fno-pie and the small code model, links at a fixed
address, and has no GOT. The object Xen links must follow the same rules:

 1. no FP/SIMD register in any instruction (Xen does not save the guest's
    FP/SIMD state around hypervisor code), and no access to FPCR/FPSR;
 2. code relocations only of the kinds the small, non-PIC model emits:
    direct branches and calls, ADRP + ADD/LDR/STR pairs, literal and
    PC-relative forms; none through a GOT, none of the absolute MOVW kind;
 3. linked in: the hook table `sched_null_def` and the hooks are in
    xen-syms, and a Rust panic ends in Xen's panic() (the object calls it).

Uses aarch64-linux-gnu-objdump and -readelf (Debian's
binutils-aarch64-linux-gnu). Exit status 1 if a check fails.
"""

import argparse
import re
import subprocess
import sys

OBJDUMP = "aarch64-linux-gnu-objdump"
READELF = "aarch64-linux-gnu-readelf"
NM = "aarch64-linux-gnu-nm"

# FP/SIMD registers as operands: v0-v31 (with arrangement), q/d/s/h/b0-31.
FP_REG = re.compile(r"^(?:v(?:[12]?\d|3[01])(?:\.\w+)?|[qdshb](?:[12]?\d|3[01]))$")
FP_SYSREG = re.compile(r"\b(?:fpcr|fpsr)\b")

# What the small code model without PIC emits in code.
CODE_RELOCS = {
    "R_AARCH64_CALL26", "R_AARCH64_JUMP26", "R_AARCH64_CONDBR19",
    "R_AARCH64_TSTBR14", "R_AARCH64_ADR_PREL_LO21",
    "R_AARCH64_ADR_PREL_PG_HI21", "R_AARCH64_ADR_PREL_PG_HI21_NC",
    "R_AARCH64_ADD_ABS_LO12_NC", "R_AARCH64_LDST8_ABS_LO12_NC",
    "R_AARCH64_LDST16_ABS_LO12_NC", "R_AARCH64_LDST32_ABS_LO12_NC",
    "R_AARCH64_LDST64_ABS_LO12_NC", "R_AARCH64_LDST128_ABS_LO12_NC",
    "R_AARCH64_LD_PREL_LO19", "R_AARCH64_PREL32",
}


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True,
                          text=True).stdout


def code_sections(obj):
    """Names of the object's executable sections."""
    out = run([READELF, "-S", "-W", obj])
    names = []
    for m in re.finditer(r"^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+"
                         r"\S+\s+(\S*)", out, re.MULTILINE):
        if "X" in m[2]:
            names.append(m[1])
    return names


def check_fp(obj):
    """Check 1: instructions naming FP/SIMD registers or FPCR/FPSR."""
    bad = []
    out = run([OBJDUMP, "-d", "--no-show-raw-insn", "-w", obj])
    n = 0
    for line in out.splitlines():
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if not m:
            continue
        n += 1
        # Drop branch/ADR targets ("b90 <sym+0x10>": an address, not
        # register b9...), symbol names and objdump's comments.
        operands = re.sub(r"\b[0-9a-f]+\s+<[^>]*>|<[^>]*>|//.*", "", m[3])
        regs = [t for t in re.split(r"[\s,\[\]{}!]+", operands) if t]
        if any(FP_REG.match(t) for t in regs) or FP_SYSREG.search(operands):
            bad.append(line.strip())
    return n, bad


def check_relocs(obj):
    """Check 2: relocation types in executable sections."""
    code = set(code_sections(obj))
    out = run([READELF, "-r", "-W", obj])
    bad, kinds, section = [], set(), None
    for line in out.splitlines():
        if m := re.match(r"^Relocation section '\.rela(\S+)'", line):
            section = m[1]
            continue
        m = re.match(r"^[0-9a-f]+\s+[0-9a-f]+\s+(R_AARCH64_\w+)\s*(.*)$", line)
        if not m or section not in code:
            continue
        kinds.add(m[1])
        if m[1] not in CODE_RELOCS:
            bad.append(f"{section}: {m[1]} {m[2].strip()}")
    return kinds, bad


def check_linked(obj, xen_syms):
    """Check 3: the table and hooks in the image; the object calls panic."""
    bad = []
    image = {line.split()[-1] for line in run([NM, xen_syms]).splitlines()
             if line.strip()}
    for sym in ("sched_null_def", "null_rs_schedule", "null_rs_unit_insert"):
        if sym not in image:
            bad.append(f"{sym} not in {xen_syms}")
    undefined = {line.split()[-1] for line in run([NM, "-u", obj]).splitlines()
                 if line.strip()}
    if "panic" not in undefined:
        bad.append("the object does not call Xen's panic()")
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--object", required=True)
    ap.add_argument("--xen-syms")
    args = ap.parse_args(argv)
    failed = 0

    def report(title, bad, limit=20):
        nonlocal failed
        print(f"[{'FAIL' if bad else 'PASS'}] {title}")
        for b in bad[:limit]:
            print(f"       {b}")
        failed += bool(bad)

    n, bad = check_fp(args.object)
    report(f"1. no FP/SIMD registers: {len(bad)} of {n} instructions use them",
           bad)
    kinds, bad = check_relocs(args.object)
    report("2. code relocations of the small non-PIC model: "
           f"{', '.join(sorted(kinds)) or 'none'}", bad)
    if args.xen_syms:
        report("3. linked into Xen, panics through panic()",
               check_linked(args.object, args.xen_syms))

    print(f"RESULT: {'FAIL' if failed else 'PASS'} ({failed} checks failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
