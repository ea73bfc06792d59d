#!/usr/bin/env python3
"""Binary audit of the Rust null scheduler in an arm64 Xen build.

    audit_arm64.py --xen-syms xen/xen-syms --object xen/common/sched/null-rust.o
                   [--object ...] [--hook-table sched_null_def] [--lds PATH]

Xen 4.17 compiles its arm64 C with -mcpu=generic -mgeneral-regs-only
-mno-outline-atomics -fno-pie, the small code model, and links at a fixed
address with no GOT and no libgcc. The objects we link in must follow the
same rules whatever flags built them, so this tool checks the result: the
objects' sections, relocations and symbols, and the machine code of those
objects as it lies in xen-syms.

 0. our code is located in xen-syms (every executable section of the
    objects), so that the instruction checks see all of it;
 1. no FP/SIMD/SVE register or instruction (Xen does not save the guest's
    FP/SIMD state around hypervisor code): v/q/d/s/h/b registers, SVE z/p
    registers and the SVE/SME instructions without them, FPCR/FPSR;
 2. relocations: in code only what the small non-PIC model emits (direct
    branches, ADRP + ADD/LDR/STR, literal/PC-relative), in data only
    ABS64/PREL32/PREL64; none through a GOT, no TLS, no MOVW absolutes;
 3. atomics inline and ARMv8.0: no call to or reference of the
    outline-atomic helpers (__aarch64_cas4_acq, ...; libgcc's, which Xen
    does not link), no copy of them, and no LSE instruction (ARMv8.1:
    undefined on the v8.0 cores Xen runs on, e.g. Cortex-A53/A57);
 4. sections: no unwind tables (.eh_frame, .ARM.exidx/.ARM.extab,
    .gcc_except_table), constructors/destructors, TLS, W+X, and none that
    arch/arm/xen.lds would leave as an orphan. GCC for aarch64 emits
    .eh_frame for every C file even under Xen's -fno-asynchronous-unwind-tables
    (-funwind-tables stays on), and xen.lds discards it: .eh_frame is
    accepted only when every entry describes a function of a C file, the
    script discards it and xen-syms has none;
 5. every undefined symbol of the objects is defined (globally) by xen-syms;
 6. the hook table (sched_null_def) is defined by our objects, every code
    pointer in it is the entry of one of our functions, our
    .data.schedulers entry (how Xen finds schedulers) points at it, and a
    Rust panic ends in Xen's panic() (the objects call it);
 7. W^X in Xen's runtime mappings: our code inside the text regions
    (_stext.._etext, _sinittext.._einittext), our writable data outside
    text and rodata (_stext.._erodata).

Uses aarch64-linux-gnu-objdump (Debian's binutils-aarch64-linux-gnu) and
the ELF reader and linker-script parser of the x86 audit (audit.py).
Exit status: 0 all checks pass, 1 some check failed, 2 input error.
"""

from __future__ import annotations

import argparse
import bisect
import fnmatch
import os
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit  # noqa: E402
from audit import (SHF_ALLOC, SHF_EXECINSTR, SHF_TLS, SHF_WRITE,  # noqa: E402
                   STT_FILE, STT_FUNC, STT_SECTION, AuditError, CheckResult, Elf)

OBJDUMP = "aarch64-linux-gnu-objdump"

CHECK_NAMES = {
    "0": "locate our code in xen-syms",
    "1": "no FP/SIMD/SVE",
    "2": "relocation types",
    "3": "no outline atomics, no LSE",
    "4": "object sections",
    "5": "undefined symbols resolved by xen-syms",
    "6": "hook table and panic",
    "7": "W^X of our sections",
}


def _result(id_, *args, **kwargs):
    return audit.check_result(CHECK_NAMES, id_, *args, **kwargs)


def _run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise AuditError(f"cannot run {cmd[0]}: {e}") from e
    if p.returncode:
        raise AuditError(f"{' '.join(cmd)} failed: {p.stderr.strip()}")
    return p.stdout


def _base(obj: Elf) -> str:
    return os.path.basename(obj.path)


# --- Disassembly -------------------------------------------------------------

LINE_RE = re.compile(r"^\s*([0-9a-f]+):\t(\S+)(?:\t(.*))?$")
LABEL_RE = re.compile(r"^[0-9a-f]+ <(.+)>:$")


def parse_insn(addr: int, mnemonic: str, operands: str, where: str) -> audit.Insn:
    operands = operands.split("//", 1)[0].strip()  # objdump's comments
    return audit.Insn(addr, where, mnemonic, operands,
                      f"{mnemonic}\t{operands}" if operands else mnemonic)


def disassemble_object(path: str) -> list[audit.Insn]:
    """Every instruction of an object's executable sections."""
    insns, where, base = [], "?", 0
    for line in _run([OBJDUMP, "-d", "--no-show-raw-insn", "-w", path]).splitlines():
        if m := LABEL_RE.match(line):
            where, base = m[1], None
            continue
        if m := LINE_RE.match(line):
            addr = int(m[1], 16)
            base = addr if base is None else base
            off = addr - base
            insns.append(parse_insn(addr, m[2], m[3] or "",
                                    where if off == 0 else f"{where}+{off:#x}"))
    return insns


def disassemble_image(image_path: str, ranges: list[tuple[int, int]], where) -> list[audit.Insn]:
    """Instructions of xen-syms inside the [start, end) ranges (our code)."""
    insns = []
    for start, end in ranges:
        out = _run([OBJDUMP, "-d", "-z", "--no-show-raw-insn", "-w",
                    f"--start-address={start:#x}", f"--stop-address={end:#x}", image_path])
        for line in out.splitlines():
            if (m := LINE_RE.match(line)) and start <= int(m[1], 16) < end:
                addr = int(m[1], 16)
                insns.append(parse_insn(addr, m[2], m[3] or "", where(addr)))
    return insns


# --- 0. Placement ------------------------------------------------------------

def check_placement(pl: audit.Placement) -> CheckResult:
    funcs = [s for s in pl.symbols if s.kind == "func"]
    ranges = pl.code_ranges()
    return _result("0", pl.problems,
                   f"{len(funcs)} functions, {len(ranges)} code sections, "
                   f"{sum(e - s for s, e in ranges)} bytes located",
                   "some code of the objects cannot be located, so it cannot be audited",
                   pl.notes)


# --- 1. FP/SIMD/SVE ------------------------------------------------------------

# Register operands: AdvSIMD/FP v0-v31 (with arrangement or lane), q/d/s/h/b
# scalar views; SVE z0-z31 and predicates p0-p15 (/z, /m, .b ...); SME za.
_R31 = r"(?:[12]?\d|3[01])"
FP_REG = re.compile(rf"^(?:v{_R31}(?:\.\w+)?|[qdshb]{_R31}|z{_R31}(?:\.[bhsdq])?"
                    r"|p(?:1[0-5]|\d)(?:/[zm]|\.[bhsdq])?|za\w*)$")
FP_SYSREG = re.compile(r"\b(?:fpcr|fpsr|zcr_el[12]|svcr|smcr_el[12])\b")
# SVE/SME instructions that may name no vector register: vector-length reads
# and stack adjustment by vector length, element counts, streaming mode.
SVE_MNEMONIC = re.compile(r"^(?:rdvl|addvl|addpl|rdsvl|addsvl|addspl|cnt[bhwd]|"
                          r"(?:inc|dec|sqinc|sqdec|uqinc|uqdec)[bhwd]|setffr|"
                          r"smstart|smstop)$")
# Branch/address targets print as "1c4 <sym+0x10>": an address, not register
# b9 or d0; drop them with symbol names before looking at operands.
TARGET_RE = re.compile(r"\b[0-9a-f]+\s+<[^>]*>|<[^>]*>")


def fp_reason(insn: audit.Insn) -> str | None:
    operands = TARGET_RE.sub(" ", insn.operands)
    if any(FP_REG.match(t) for t in re.split(r"[\s,\[\]{}!]+", operands) if t):
        return "FP/SIMD/SVE register"
    if FP_SYSREG.search(operands):
        return "FP/SVE control register"
    if SVE_MNEMONIC.match(insn.mnemonic):
        return "SVE/SME instruction"
    return None


def check_fp(insns: list[audit.Insn]) -> CheckResult:
    bad = [f"{i.show()}  ({r})" for i in insns if (r := fp_reason(i))]
    return _result("1", bad, f"none in {len(insns)} instructions",
                   f"{len(bad)} of {len(insns)} instructions use FP/SIMD/SVE state "
                   "(it belongs to the current vCPU)")


# --- 2. Relocations ------------------------------------------------------------

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
# Pointers and offsets in allocated data (hook table, bug frames, .eh_frame).
DATA_RELOCS = {"R_AARCH64_ABS64", "R_AARCH64_PREL32", "R_AARCH64_PREL64"}


def reloc_reason(rtype: str, code: bool) -> str | None:
    if rtype in (CODE_RELOCS if code else DATA_RELOCS):
        return None
    if "TLS" in rtype:
        return "TLS, which Xen does not have"
    if "GOT" in rtype:
        return "through a GOT, which Xen does not have"
    if "MOVW" in rtype or (code and rtype.startswith("R_AARCH64_ABS")):
        return "absolute address in code (large code model)"
    return f"not expected in {'code' if code else 'data'} of a static non-PIC link"


def check_relocations(objs: list[Elf]) -> CheckResult:
    """Relocation types in the allocated sections (debug sections are never
    loaded and use ABS32 for DWARF offsets; counted only)."""
    counts: dict[str, int] = {}
    debug = 0
    failures = []
    for obj in objs:
        for r in obj.relocations():
            if not r.section.flags & SHF_ALLOC:
                debug += 1
                continue
            counts[r.type] = counts.get(r.type, 0) + 1
            why = reloc_reason(r.type, bool(r.section.flags & SHF_EXECINSTR))
            if why:
                failures.append(f"{_base(obj)}:{r.section.name}+{r.offset:#x} {r.type} "
                                f"{audit._target_name(obj, r)}{r.addend:+#x}: {why}")
    types = ", ".join(f"{t[10:]}x{n}" for t, n in sorted(counts.items()))
    return _result("2", failures, f"only {types or 'no relocations'}",
                   f"{len(failures)} relocations not valid for Xen",
                   [f"loaded sections: {types or 'none'}",
                    f"debug sections (not checked): {debug}"])


# --- 3. Atomics --------------------------------------------------------------

OUTLINE_PREFIX = "__aarch64_"
# LSE (ARMv8.1) atomics: CAS, CASP, SWP and the LD<op>/ST<op> families, each
# with optional acquire/release and byte/halfword forms.
LSE_MNEMONIC = re.compile(r"^(?:casp?|swp|(?:ld|st)(?:add|clr|eor|set|smax|smin|umax|umin))"
                          r"(?:a|al|l)?[bh]?$")


def check_atomics(objs: list[Elf], insns: list[audit.Insn]) -> CheckResult:
    failures = []
    for obj in objs:
        o = _base(obj)
        names = {s.name for s in obj.symbols
                 if s.name.startswith(OUTLINE_PREFIX) and s.type != STT_FILE}
        for s in obj.symbols:
            if s.name in names:
                failures.append(f"{o}: {s.name} " + ("undefined (Xen has no outline-atomic helpers)"
                                                      if not s.defined else
                                                      "defined: a copy of the outline-atomic helpers"))
                names.discard(s.name)
        for r in obj.relocations():
            if r.sym.name.startswith(OUTLINE_PREFIX) and r.section.flags & SHF_ALLOC:
                failures.append(f"{o}:{r.section.name}+{r.offset:#x} {r.type} {r.sym.name}")
    calls = [f"{i.show()}  (outline-atomic helper)" for i in insns
             if f"<{OUTLINE_PREFIX}" in i.operands]
    lse = [f"{i.show()}  (LSE, ARMv8.1)" for i in insns if LSE_MNEMONIC.match(i.mnemonic)]
    exclusive = sum(bool(re.match(r"^(?:ld|st)[al]?x[rp]", i.mnemonic)) for i in insns)
    return _result("3", failures + calls + lse,
                   f"no __aarch64_* helper, no LSE instruction in {len(insns)} instructions; "
                   f"{exclusive} load/store-exclusive instructions",
                   f"{len(failures) + len(calls)} outline-atomic references, "
                   f"{len(lse)} LSE instructions")


# --- 4. Sections ----------------------------------------------------------------

FORBIDDEN_SECTIONS = {
    **audit.FORBIDDEN_SECTIONS,
    # AArch32-style unwind index/table: never valid in an AArch64 Xen.
    ".ARM.exidx": "unwind tables", ".ARM.exidx.*": "unwind tables",
    ".ARM.extab": "unwind tables", ".ARM.extab.*": "unwind tables",
}
# Markers ld consumes and never places: an empty .note.GNU-stack says the
# object needs no executable stack.
LINKER_MARKERS = {".note.GNU-stack"}


def code_owner(obj: Elf):
    """addr-in-section -> source file name, from local symbols.

    AArch64 objects carry a mapping symbol ($x/$d) at the start of every code
    section (AAELF64), so after `ld -r` each input file's part of a merged
    section starts with one of its own local symbols, which follow that
    file's STT_FILE. Global symbols lose their file, so they are not used."""
    marks: dict[int, list[tuple[int, str]]] = {}
    for s in obj.symbols:
        if s.file is not None and s.type != STT_SECTION and obj.section_of(s):
            marks.setdefault(s.shndx, []).append((s.value, s.file))
    for v in marks.values():
        v.sort()

    def owner(shndx: int, addr: int) -> str | None:
        v = marks.get(shndx, [])
        i = bisect.bisect_right(v, (addr, "\U0010ffff")) - 1
        return v[i][1] if i >= 0 else None
    return owner


def eh_frame_problems(obj: Elf, sec: audit.Section, rules, image: Elf | None) -> list[str]:
    """Why this .eh_frame is not Xen's usual C one (see check 4), or []."""
    problems = []
    if audit.output_section_for(sec.name, rules) != "/DISCARD/":
        problems.append("the linker script does not discard it")
    if image is not None and image.section_size(sec.name):
        problems.append(f"{_base(image)} has a {sec.name} section")
    owner = code_owner(obj)
    fdes = [r for r in obj.relocations() if r.section is sec]
    for r in fdes:
        target = obj.section_of(r.sym)
        if target is None or not target.flags & SHF_EXECINSTR:
            # A personality routine or its pointer: exception handling.
            problems.append(f"entry -> {audit._target_name(obj, r)}{r.addend:+#x} "
                            "(not code of this object: a personality routine?)")
            continue
        addr = r.addend + (0 if r.sym.type == STT_SECTION else r.sym.value)
        src = owner(target.index, addr)
        if not (src or "").endswith(".c"):
            problems.append(f"entry -> {target.name}+{addr:#x}, code of {src or 'no known file'} "
                            "(not a C file: unwind tables of our own code)")
    if not fdes:
        problems.append("no entry points at code")
    return problems


def check_sections(objs: list[Elf], rules: list[tuple[str, str]],
                   image: Elf | None = None) -> CheckResult:
    failures, details = [], []
    for obj in objs:
        for sec in obj.sections:
            if sec.type in audit.NON_INPUT_SECTION_TYPES:
                continue
            tag = f"{_base(obj)}:{sec.name}"
            if sec.name in LINKER_MARKERS and not sec.flags & SHF_ALLOC:
                if sec.flags & SHF_EXECINSTR:
                    failures.append(f"{tag}: asks for an executable stack")
                else:
                    details.append(f"{tag}: linker marker, not placed")
                continue
            why = next((w for p, w in FORBIDDEN_SECTIONS.items()
                        if fnmatch.fnmatchcase(sec.name, p)), None)
            if sec.name == ".eh_frame":
                problems = eh_frame_problems(obj, sec, rules, image)
                if not problems:
                    details.append(f"{tag}: unwind tables of C files only (GCC's aarch64 "
                                   "default, as in Xen's own objects), discarded by the "
                                   "linker script")
                    continue
                failures += [f"{tag}: forbidden section (unwind tables): {p}" for p in problems]
            elif why:
                failures.append(f"{tag}: forbidden section ({why})")
            if sec.flags & SHF_TLS:
                failures.append(f"{tag}: TLS section")
            if sec.flags & SHF_WRITE and sec.flags & SHF_EXECINSTR:
                failures.append(f"{tag}: writable and executable")
            out = audit.output_section_for(sec.name, rules)
            if out is not None:
                details.append(f"{tag} -> {out}")
            elif not sec.flags & SHF_ALLOC and sec.name.startswith(".debug_"):
                details.append(f"{tag} -> (unlisted debug section, not loaded)")
            elif not why:
                failures.append(f"{tag}: orphan, no input pattern of xen.lds matches it")
    return _result("4", failures, "no unwind/ctor/TLS/W+X/orphan sections",
                   "forbidden or orphan sections", details)


# --- 5. Undefined symbols --------------------------------------------------------

def check_undefined(objs: list[Elf], image: Elf) -> CheckResult:
    r = audit.check_undefined(objs, image)
    return CheckResult("5", CHECK_NAMES["5"], r.status, r.summary, r.details)


# --- 6. Hook table -----------------------------------------------------------

def check_hook_table(image: Elf, objs: list[Elf], pl: audit.Placement,
                     table_name: str, require_panic: bool = True) -> CheckResult:
    """The scheduler Xen calls is ours: the table is defined by our objects,
    its code pointers are entries of our functions, and our
    .data.schedulers entry (Xen walks __start_schedulers_array) points at
    it. Pointers into code that are not our function entries (Xen's C
    null_schedule, the middle of a function) fail."""
    table = pl.find_symbol(table_name)
    failures, targets = audit.hook_targets(image, table, table_name)
    details = []
    ours = {s.addr for s in pl.symbols if s.kind == "func"}
    for label, ptr in targets:
        if ptr in ours:
            details.append(f"{label}: our function")
        else:
            failures.append(f"{label}: not the entry of a function of our objects")
    entries = [s for s in pl.sections if s.name == ".data.schedulers"]
    if table is not None:
        if not entries:
            failures.append("no .data.schedulers entry located: Xen would not find the scheduler")
        for s in entries:
            ptrs = [struct.unpack_from("<Q", image.read(s.addr, s.size), o)[0]
                    for o in range(0, s.size - 7, 8)]
            if table.addr in ptrs:
                details.append(f"{s.obj}:.data.schedulers @ {s.addr:#x} -> {table_name}")
            else:
                failures.append(f"{s.obj}:.data.schedulers @ {s.addr:#x} holds "
                                + ", ".join(f"{p:#x}" for p in ptrs)
                                + f", not {table_name} ({table.addr:#x})")
    table_problems = len(failures)
    if require_panic:
        if any(not s.defined and s.name == "panic" for o in objs for s in o.symbols):
            details.append("the objects call Xen's panic()")
        else:
            failures.append("the objects do not call Xen's panic(): Rust panics do not end there")
    return _result("6", failures,
                   f"{len(targets)} hooks, all our functions; listed in .data.schedulers"
                   + ("; panics through panic()" if require_panic else ""),
                   f"{table_problems} hook table problems (not ours, or Xen would not find it)"
                   + (", no call to panic()" if len(failures) > table_problems else ""),
                   details)


# --- 7. W^X ------------------------------------------------------------------

REGION_SYMBOLS = {
    "text (RX)": ("_stext", "_etext"),
    "init text (RX, freed after boot)": ("_sinittext", "_einittext"),
    "text+rodata (not writable)": ("_stext", "_erodata"),
}
CODE_REGIONS = ("text (RX)", "init text (RX, freed after boot)")


def arm_regions(image: Elf) -> dict[str, tuple[int, int]]:
    regions = {}
    for region, names in REGION_SYMBOLS.items():
        syms = [next((s for s in image.by_name.get(n, ()) if s.defined), None) for n in names]
        if None in syms:
            raise AuditError(f"{image.path}: no {'/'.join(names)} symbols; not an arm Xen image?")
        regions[region] = (syms[0].value, syms[1].value)
    return regions


def check_wx(pl: audit.Placement, regions: dict[str, tuple[int, int]]) -> CheckResult:
    """xen-syms is one RWE segment (ld -N) with writable .text, so ELF flags
    say nothing; Xen maps text RX and rodata RO from the linker-script
    symbols (setup_pagetables, WXN). Our code must be inside a text region,
    our writable data outside text and rodata."""
    def inside(addr, name):
        lo, hi = regions[name]
        return lo <= addr < hi
    failures, details = [], []
    for s in pl.sections:
        tag = f"{s.obj}:{s.name} @ {s.addr:#x}"
        if s.flags & SHF_EXECINSTR and not any(inside(s.addr, r) for r in CODE_REGIONS):
            failures.append(f"{tag}: code outside Xen's text regions")
        elif s.flags & SHF_WRITE and inside(s.addr, "text+rodata (not writable)"):
            failures.append(f"{tag}: writable data inside text/rodata (mapped read-only)")
        else:
            details.append(tag)
    return _result("7", failures,
                   "our code in the text regions, our writable data outside text/rodata",
                   "our sections break Xen's runtime W^X", details)


# --- Driver ------------------------------------------------------------------

def run_audit(xen_syms: str, objects: list[str], hook_table: str,
              lds: str | None = None) -> list[CheckResult]:
    lds = lds or os.path.join(os.path.dirname(os.path.abspath(xen_syms)), "arch", "arm", "xen.lds")
    try:
        with open(lds, encoding="utf-8") as f:
            rules = audit.parse_lds(f.read())
    except OSError as e:
        raise AuditError(f"cannot read linker script {lds}: {e} (use --lds)") from e
    image = Elf(xen_syms)
    objs = [Elf(p) for p in objects]
    for e in (image, *objs):
        if e.machine != audit.EM_AARCH64:
            raise AuditError(f"{e.path}: not an AArch64 ELF file (e_machine {e.machine})")
    pl = audit.place_objects(image, objs)
    insns = disassemble_image(xen_syms, pl.code_ranges(), pl.symbolizer())
    return [check_placement(pl), check_fp(insns), check_relocations(objs),
            check_atomics(objs, insns), check_sections(objs, rules, image),
            check_undefined(objs, image), check_hook_table(image, objs, pl, hook_table),
            check_wx(pl, arm_regions(image))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xen-syms", required=True)
    ap.add_argument("--object", action="append", required=True, dest="objects",
                    help="relocatable object linked into Xen (repeatable)")
    ap.add_argument("--hook-table", default="sched_null_def",
                    help="struct scheduler symbol (default: sched_null_def)")
    ap.add_argument("--lds", help="preprocessed linker script "
                                  "(default: arch/arm/xen.lds beside xen-syms)")
    args = ap.parse_args(argv)
    try:
        checks = run_audit(args.xen_syms, args.objects, args.hook_table, args.lds)
    except AuditError as e:
        print(f"audit_arm64: error: {e}", file=sys.stderr)
        return 2
    for c in checks:
        print(f"[{c.status}] {c.id}. {c.name}: {c.summary}")
        for d in c.details:
            print(f"       {d}")
    failed = [c for c in checks if c.status == "FAIL"]
    print(f"RESULT: {'FAIL' if failed else 'PASS'} ({len(failed)} of {len(checks)} checks failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
