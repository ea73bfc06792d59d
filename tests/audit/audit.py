#!/usr/bin/env python3
"""Binary audit of scheduler objects as linked into Xen (xen-syms).

The Rust null scheduler is compiled by a toolchain that knows nothing about
Xen's code-generation rules (no FPU/SIMD, IBT landing pads, retpoline and
return thunks, no red zone, no unwind tables, static link at
0xffff82d040200000).  Compiler flags can be wrong or silently ignored, so this
tool checks the *result*: the machine code that actually ended up in xen-syms
and the relocatable objects that went into the link.  Only Xen's .config
decides which properties are required: with CONFIG_XEN_IBT,
CONFIG_INDIRECT_THUNK or CONFIG_RETURN_THUNK off, the corresponding check
requires the plain form instead (no endbr64, no thunks, plain ret), since
the Rust flags must follow .config either way.

Usage:
  audit.py --xen-syms PATH --config PATH --object PATH [--object PATH ...]
           --hook-table SYMBOL [--json] [--xen-tree DIR] [--lds PATH]

Every check is a function over parsed data (Elf objects, disassembled
instructions, linker-script rules) so that tests can feed it small bad inputs.
Exit status: 0 all checks pass, 1 some check failed, 2 usage/input error.
"""

from __future__ import annotations

import argparse
import bisect
import fnmatch
import json
import os
import re
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

# --- ELF constants (only those used) ----------------------------------------

SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 2, 3, 4, 8, 9
SHT_GROUP, SHT_SYMTAB_SHNDX = 17, 18
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHF_TLS = 0x1, 0x2, 0x4, 0x400
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE = 0, 1, 2, 3, 4
STB_LOCAL = 0
SHN_UNDEF, SHN_LORESERVE, SHN_XINDEX = 0, 0xFF00, 0xFFFF
PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4

# Sections that are ELF bookkeeping consumed by the linker, not input
# sections placed by the linker script.
NON_INPUT_SECTION_TYPES = {0, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_REL,
                           SHT_GROUP, SHT_SYMTAB_SHNDX}

R_X86_64 = {
    0: "NONE", 1: "64", 2: "PC32", 3: "GOT32", 4: "PLT32", 5: "COPY",
    6: "GLOB_DAT", 7: "JUMP_SLOT", 8: "RELATIVE", 9: "GOTPCREL", 10: "32",
    11: "32S", 12: "16", 13: "PC16", 14: "8", 15: "PC8", 16: "DTPMOD64",
    17: "DTPOFF64", 18: "TPOFF64", 19: "TLSGD", 20: "TLSLD", 21: "DTPOFF32",
    22: "GOTTPOFF", 23: "TPOFF32", 24: "PC64", 25: "GOTOFF64", 26: "GOTPC32",
    27: "GOT64", 28: "GOTPCREL64", 29: "GOTPC64", 30: "GOTPLT64",
    31: "PLTOFF64", 32: "SIZE32", 33: "SIZE64", 34: "GOTPC32_TLSDESC",
    35: "TLSDESC_CALL", 36: "TLSDESC", 37: "IRELATIVE", 38: "RELATIVE64",
    41: "GOTPCRELX", 42: "REX_GOTPCRELX",
}

# AArch64 (LP64) relocation types, from glibc's <elf.h>; the arm64 audit
# (audit_arm64.py) reads objects through the same Elf class.
R_AARCH64 = {
    0: "NONE", 257: "ABS64", 258: "ABS32", 259: "ABS16", 260: "PREL64",
    261: "PREL32", 262: "PREL16", 263: "MOVW_UABS_G0", 264: "MOVW_UABS_G0_NC",
    265: "MOVW_UABS_G1", 266: "MOVW_UABS_G1_NC", 267: "MOVW_UABS_G2",
    268: "MOVW_UABS_G2_NC", 269: "MOVW_UABS_G3", 270: "MOVW_SABS_G0",
    271: "MOVW_SABS_G1", 272: "MOVW_SABS_G2", 273: "LD_PREL_LO19",
    274: "ADR_PREL_LO21", 275: "ADR_PREL_PG_HI21", 276: "ADR_PREL_PG_HI21_NC",
    277: "ADD_ABS_LO12_NC", 278: "LDST8_ABS_LO12_NC", 279: "TSTBR14",
    280: "CONDBR19", 282: "JUMP26", 283: "CALL26", 284: "LDST16_ABS_LO12_NC",
    285: "LDST32_ABS_LO12_NC", 286: "LDST64_ABS_LO12_NC", 287: "MOVW_PREL_G0",
    288: "MOVW_PREL_G0_NC", 289: "MOVW_PREL_G1", 290: "MOVW_PREL_G1_NC",
    291: "MOVW_PREL_G2", 292: "MOVW_PREL_G2_NC", 293: "MOVW_PREL_G3",
    299: "LDST128_ABS_LO12_NC", 300: "MOVW_GOTOFF_G0", 301: "MOVW_GOTOFF_G0_NC",
    302: "MOVW_GOTOFF_G1", 303: "MOVW_GOTOFF_G1_NC", 304: "MOVW_GOTOFF_G2",
    305: "MOVW_GOTOFF_G2_NC", 306: "MOVW_GOTOFF_G3", 307: "GOTREL64",
    308: "GOTREL32", 309: "GOT_LD_PREL19", 310: "LD64_GOTOFF_LO15",
    311: "ADR_GOT_PAGE", 312: "LD64_GOT_LO12_NC", 313: "LD64_GOTPAGE_LO15",
    512: "TLSGD_ADR_PREL21", 513: "TLSGD_ADR_PAGE21", 514: "TLSGD_ADD_LO12_NC",
    515: "TLSGD_MOVW_G1", 516: "TLSGD_MOVW_G0_NC", 517: "TLSLD_ADR_PREL21",
    518: "TLSLD_ADR_PAGE21", 519: "TLSLD_ADD_LO12_NC", 520: "TLSLD_MOVW_G1",
    521: "TLSLD_MOVW_G0_NC", 522: "TLSLD_LD_PREL19", 523: "TLSLD_MOVW_DTPREL_G2",
    524: "TLSLD_MOVW_DTPREL_G1", 525: "TLSLD_MOVW_DTPREL_G1_NC",
    526: "TLSLD_MOVW_DTPREL_G0", 527: "TLSLD_MOVW_DTPREL_G0_NC",
    528: "TLSLD_ADD_DTPREL_HI12", 529: "TLSLD_ADD_DTPREL_LO12",
    530: "TLSLD_ADD_DTPREL_LO12_NC", 531: "TLSLD_LDST8_DTPREL_LO12",
    532: "TLSLD_LDST8_DTPREL_LO12_NC", 533: "TLSLD_LDST16_DTPREL_LO12",
    534: "TLSLD_LDST16_DTPREL_LO12_NC", 535: "TLSLD_LDST32_DTPREL_LO12",
    536: "TLSLD_LDST32_DTPREL_LO12_NC", 537: "TLSLD_LDST64_DTPREL_LO12",
    538: "TLSLD_LDST64_DTPREL_LO12_NC", 539: "TLSIE_MOVW_GOTTPREL_G1",
    540: "TLSIE_MOVW_GOTTPREL_G0_NC", 541: "TLSIE_ADR_GOTTPREL_PAGE21",
    542: "TLSIE_LD64_GOTTPREL_LO12_NC", 543: "TLSIE_LD_GOTTPREL_PREL19",
    544: "TLSLE_MOVW_TPREL_G2", 545: "TLSLE_MOVW_TPREL_G1",
    546: "TLSLE_MOVW_TPREL_G1_NC", 547: "TLSLE_MOVW_TPREL_G0",
    548: "TLSLE_MOVW_TPREL_G0_NC", 549: "TLSLE_ADD_TPREL_HI12",
    550: "TLSLE_ADD_TPREL_LO12", 551: "TLSLE_ADD_TPREL_LO12_NC",
    552: "TLSLE_LDST8_TPREL_LO12", 553: "TLSLE_LDST8_TPREL_LO12_NC",
    554: "TLSLE_LDST16_TPREL_LO12", 555: "TLSLE_LDST16_TPREL_LO12_NC",
    556: "TLSLE_LDST32_TPREL_LO12", 557: "TLSLE_LDST32_TPREL_LO12_NC",
    558: "TLSLE_LDST64_TPREL_LO12", 559: "TLSLE_LDST64_TPREL_LO12_NC",
    560: "TLSDESC_LD_PREL19", 561: "TLSDESC_ADR_PREL21", 562: "TLSDESC_ADR_PAGE21",
    563: "TLSDESC_LD64_LO12", 564: "TLSDESC_ADD_LO12", 565: "TLSDESC_OFF_G1",
    566: "TLSDESC_OFF_G0_NC", 567: "TLSDESC_LDR", 568: "TLSDESC_ADD",
    569: "TLSDESC_CALL", 570: "TLSLE_LDST128_TPREL_LO12",
    571: "TLSLE_LDST128_TPREL_LO12_NC", 572: "TLSLD_LDST128_DTPREL_LO12",
    573: "TLSLD_LDST128_DTPREL_LO12_NC", 1024: "COPY", 1025: "GLOB_DAT",
    1026: "JUMP_SLOT", 1027: "RELATIVE", 1028: "TLS_DTPMOD", 1029: "TLS_DTPREL",
    1030: "TLS_TPREL", 1031: "TLSDESC", 1032: "IRELATIVE",
}

EM_X86_64, EM_AARCH64 = 62, 183
# e_machine -> (relocation name prefix, names by type number)
RELOC_NAMES = {EM_X86_64: ("R_X86_64_", R_X86_64), EM_AARCH64: ("R_AARCH64_", R_AARCH64)}

ENDBR64 = b"\xf3\x0f\x1e\xfa"


class AuditError(Exception):
    """Input problem that prevents the audit from running at all."""


# --- Minimal ELF64 little-endian reader -------------------------------------

@dataclass
class Section:
    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int


@dataclass
class Segment:
    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


@dataclass
class Symbol:
    name: str
    value: int
    size: int
    type: int
    bind: int
    shndx: int
    file: str | None  # STT_FILE in force for local symbols, else None

    @property
    def defined(self) -> bool:
        return self.shndx != SHN_UNDEF


@dataclass
class Reloc:
    section: Section  # section the relocation applies to
    offset: int
    type: str
    sym: Symbol
    addend: int


class Elf:
    """Just enough of ELF64 (little endian; x86-64 or AArch64) for the audits."""

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path, "rb") as f:
                self.data = f.read()
        except OSError as e:
            raise AuditError(f"cannot read {path}: {e}") from e
        d = self.data
        if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
            raise AuditError(f"{path}: not a little-endian ELF64 file")
        (_type, self.machine, _ver, _entry, phoff, shoff, _flags, _ehsize,
         phentsize, phnum, shentsize, shnum, shstrndx) = struct.unpack_from(
            "<HHIQQQIHHHHHH", d, 16)
        if (shoff and shnum == 0) or shstrndx == SHN_XINDEX:
            raise AuditError(f"{path}: extended section numbering is not supported")

        headers = [struct.unpack_from("<IIQQQQII", d, shoff + i * shentsize)
                   for i in range(shnum)]
        self.sections = [Section(i, "", *h[1:]) for i, h in enumerate(headers)]
        shstr = self.sections[shstrndx]
        for sec, h in zip(self.sections, headers):
            sec.name = _cstr(d, shstr.offset + h[0])
        if any(s.type == SHT_SYMTAB_SHNDX for s in self.sections):
            raise AuditError(f"{path}: SHT_SYMTAB_SHNDX is not supported")

        self.segments = [Segment(*struct.unpack_from("<IIQQQQQ", d, phoff + i * phentsize))
                         for i in range(phnum)]
        self.symbols = self._read_symbols()
        self.by_name: dict[str, list[Symbol]] = {}
        for sym in self.symbols:
            if sym.name:
                self.by_name.setdefault(sym.name, []).append(sym)

    def _read_symbols(self) -> list[Symbol]:
        symtab = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        if symtab is None:
            return []
        strtab = self.sections[symtab.link]
        out, current_file = [], None
        for i in range(symtab.size // 24):
            st_name, info, _other, shndx, value, size = struct.unpack_from(
                "<IBBHQQ", self.data, symtab.offset + i * 24)
            name = _cstr(self.data, strtab.offset + st_name)
            typ, bind = info & 0xF, info >> 4
            if typ == STT_FILE:
                current_file = name
            out.append(Symbol(name, value, size, typ, bind, shndx,
                              current_file if bind == STB_LOCAL else None))
        return out

    def section_of(self, sym: Symbol) -> Section | None:
        if SHN_UNDEF < sym.shndx < SHN_LORESERVE:
            return self.sections[sym.shndx]
        return None

    def relocations(self) -> list[Reloc]:
        if self.machine not in RELOC_NAMES:
            raise AuditError(f"{self.path}: relocations of machine {self.machine} "
                             "are not supported")
        prefix, names = RELOC_NAMES[self.machine]
        out = []
        for rs in self.sections:
            if rs.type != SHT_RELA:
                continue
            target = self.sections[rs.info]
            for off in range(rs.offset, rs.offset + rs.size, 24):
                r_off, r_info, r_add = struct.unpack_from("<QQq", self.data, off)
                rtype = r_info & 0xFFFFFFFF
                out.append(Reloc(target, r_off, prefix + names.get(rtype, str(rtype)),
                                 self.symbols[r_info >> 32], r_add))
        return out

    def section_by_addr(self, addr: int) -> Section | None:
        for s in self.sections:
            if s.flags & SHF_ALLOC and s.addr <= addr < s.addr + s.size:
                return s
        return None

    def read(self, addr: int, size: int) -> bytes:
        """Bytes at a virtual address of a linked image."""
        s = self.section_by_addr(addr)
        if s is None or addr + size > s.addr + s.size:
            raise AuditError(f"{self.path}: {addr:#x}+{size} is not inside one section")
        if s.type == SHT_NOBITS:
            return bytes(size)
        start = s.offset + addr - s.addr
        return self.data[start:start + size]

    def section_size(self, name: str) -> int:
        return sum(s.size for s in self.sections if s.name == name)


def _cstr(data: bytes, off: int) -> str:
    return data[off:data.index(b"\0", off)].decode("utf-8", "replace")


# --- Kconfig and linker script ----------------------------------------------

def load_config(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise AuditError(f"cannot read {path}: {e}") from e
    cfg = {}
    for line in lines:
        m = re.match(r"(CONFIG_\w+)=(.*)$", line)
        if m:
            cfg[m.group(1)] = m.group(2)
    return cfg


def parse_lds(text: str) -> list[tuple[str, str]]:
    """(input-section pattern, output section) pairs inside SECTIONS { }.

    Kept in script order: GNU ld assigns an input section to the first
    statement whose pattern matches it.  Works on the preprocessed script the
    Xen build produces (arch/x86/xen.lds), so it reflects the .config (e.g.
    `*(.text.*)` only exists with CONFIG_CC_SPLIT_SECTIONS)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    m = re.search(r"\bSECTIONS\s*\{", text)
    if not m:
        raise AuditError("linker script has no SECTIONS block")
    rules: list[tuple[str, str]] = []
    depth, stmt_start, body_start, out_name = 1, m.end(), 0, ""
    i = m.end()
    while depth and i < len(text):
        c = text[i]
        if c == "{":
            if depth == 1:
                out_name, body_start = _output_section_name(text[stmt_start:i]), i + 1
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 1:
                rules += [(p, out_name) for p in _input_patterns(text[body_start:i])]
                stmt_start = i + 1
        elif c == ";" and depth == 1:
            stmt_start = i + 1
        i += 1
    return rules


def _output_section_name(header: str) -> str:
    # The header may still carry the previous section's trailing ":phdr"
    # list; the output section's own ':' is the last one at paren depth 0,
    # and its name is the last section-like token before it.
    depth, colon = 0, len(header)
    for j, c in enumerate(header):
        depth += c == "("
        depth -= c == ")"
        if c == ":" and depth == 0:
            colon = j
    names = [t for t in header[:colon].split() if re.fullmatch(r"[./][^\s()]+", t)]
    if not names:
        raise AuditError(f"cannot parse output section header {header.strip()!r}")
    return names[-1]


def _input_patterns(body: str) -> list[str]:
    patterns = []
    for m in re.finditer(r"\*\s*\(", body):
        depth, j = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(body[j], 0)
            j += 1
        inner = body[m.end():j - 1]
        # Strip SORT(...), SORT_BY_INIT_PRIORITY(...), KEEP(...) wrappers.
        inner = re.sub(r"\b[A-Z_]+\s*\(", " ", inner).replace(")", " ")
        patterns += inner.split()
    return patterns


def output_section_for(name: str, rules: list[tuple[str, str]]) -> str | None:
    for pattern, out in rules:
        if fnmatch.fnmatchcase(name, pattern):
            return out
    return None


# --- Placing the objects' sections inside xen-syms --------------------------

@dataclass
class PlacedSection:
    obj: str
    name: str
    flags: int
    size: int
    addr: int


@dataclass
class PlacedSymbol:
    obj: str
    name: str
    kind: str  # "func", "object" or "label"
    addr: int
    size: int
    section: str


@dataclass
class Placement:
    sections: list[PlacedSection] = field(default_factory=list)
    symbols: list[PlacedSymbol] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # make the audit incomplete
    notes: list[str] = field(default_factory=list)

    def code_ranges(self) -> list[tuple[int, int]]:
        return sorted((s.addr, s.addr + s.size) for s in self.sections
                      if s.flags & SHF_EXECINSTR)

    def symbolizer(self):
        """addr -> 'symbol+0xoff' using our own code symbols."""
        return symbolizer_over((s.addr, s.name) for s in self.symbols
                               if s.kind in ("func", "label"))

    def find_symbol(self, name: str) -> PlacedSymbol | None:
        return next((s for s in self.symbols if s.name == name), None)


def resolve_in_image(image: Elf, sym: Symbol) -> tuple[Symbol | None, str]:
    """Find the image's copy of an object symbol; (symbol, "") or (None, why).

    Locals can share names across Xen; narrow by size, then by binding, then
    by the STT_FILE they belong to (ld keeps FILE symbols in xen-syms)."""
    cands = [c for c in image.by_name.get(sym.name, ())
             if c.defined and c.type != STT_FILE]
    if len(cands) > 1:
        cands = [c for c in cands if c.size == sym.size]
    if len(cands) > 1:
        cands = [c for c in cands if (c.bind == STB_LOCAL) == (sym.bind == STB_LOCAL)]
    if len(cands) > 1 and sym.bind == STB_LOCAL:
        cands = [c for c in cands if c.file == sym.file]
    if len(cands) == 1:
        return cands[0], ""
    if not cands:
        return None, f"{sym.name}: not found in {os.path.basename(image.path)}"
    return None, (f"{sym.name}: ambiguous in {os.path.basename(image.path)} ("
                  + ", ".join(f"{c.value:#x}" for c in cands) + ")")


def place_objects(image: Elf, objs: list[Elf]) -> Placement:
    """Find where each allocated section of each object ended up in the image.

    A section's image address is (image symbol address - symbol offset) for
    any symbol defined in it; all of them must agree.  Whole sections are
    audited, so code not covered by any symbol (padding, local labels) is
    checked too.  Local labels (.L*) and Arm mapping symbols ($x, $d: every
    AArch64 object has many of the same name) identify nothing."""
    pl = Placement()
    kinds = {STT_FUNC: "func", STT_OBJECT: "object", STT_NOTYPE: "label"}
    for obj in objs:
        oname = os.path.basename(obj.path)
        bases: dict[int, set[int]] = {}
        why: dict[int, list[str]] = {}
        for sym in obj.symbols:
            sec = obj.section_of(sym)
            if (sec is None or not sec.flags & SHF_ALLOC or sym.type not in kinds
                    or not sym.name or sym.name.startswith((".L", "$"))):
                continue
            found, reason = resolve_in_image(image, sym)
            if found is None:
                why.setdefault(sec.index, []).append(reason)
                continue
            bases.setdefault(sec.index, set()).add(found.value - sym.value)
            if sym.type != STT_NOTYPE or sec.flags & SHF_EXECINSTR:
                pl.symbols.append(PlacedSymbol(oname, sym.name, kinds[sym.type],
                                               found.value, sym.size, sec.name))
        for sec in obj.sections:
            if not sec.flags & SHF_ALLOC or sec.size == 0:
                continue
            found_bases = bases.get(sec.index, set())
            reasons = "; ".join(why.get(sec.index, [])) or "no usable symbol in it"
            if len(found_bases) == 1:
                pl.sections.append(PlacedSection(oname, sec.name, sec.flags, sec.size,
                                                 found_bases.pop()))
                if sec.index in why:
                    pl.notes.append(f"{oname}:{sec.name}: placed, despite {reasons}")
            elif len(found_bases) > 1:
                pl.problems.append(f"{oname}:{sec.name}: symbols disagree on its address ("
                                   + ", ".join(f"{b:#x}" for b in sorted(found_bases)) + ")")
            elif sec.flags & SHF_EXECINSTR:
                pl.problems.append(f"{oname}:{sec.name}: code not found in image: {reasons}")
            else:
                pl.notes.append(f"{oname}:{sec.name}: data not located ({reasons})")
    return pl


# --- Disassembly -------------------------------------------------------------

# Prefixes objdump prints as separate words before the mnemonic.  Stripping
# them keeps e.g. "fs nop" or "cs nopw" from looking like an x87 mnemonic.
PREFIXES = {"lock", "rep", "repz", "repnz", "repe", "repne", "data16", "data32",
            "addr16", "addr32", "cs", "ds", "es", "fs", "gs", "ss", "notrack",
            "bnd", "xacquire", "xrelease"}
PREFIX_RE = re.compile(r"rex(\.[WRXB]+)?|\{[a-z0-9]+\}")


@dataclass
class Insn:
    addr: int
    where: str  # symbol+offset within our objects
    mnemonic: str
    operands: str
    text: str

    def show(self) -> str:
        return f"{self.addr:016x} <{self.where}>: {self.text}"


def parse_insn(addr: int, text: str, where: str) -> Insn:
    text = text.split("#", 1)[0].strip()  # drop objdump's "# addr <sym>" comments
    words = text.split()
    while words and (words[0] in PREFIXES or PREFIX_RE.fullmatch(words[0])):
        words.pop(0)
    mnemonic = words[0] if words else ""
    return Insn(addr, where, mnemonic, " ".join(words[1:]), text)


def disassemble(image_path: str, ranges: list[tuple[int, int]], where) -> list[Insn]:
    """Instructions of the image inside the given [start, end) ranges.

    One objdump run per cluster of nearby ranges keeps it to a handful of
    processes whatever the number of functions."""
    insns: list[Insn] = []
    starts = [r[0] for r in ranges]
    clusters: list[list[int]] = []
    for start, end in ranges:
        if clusters and start - clusters[-1][1] < 0x10000:
            clusters[-1][1] = max(clusters[-1][1], end)
        else:
            clusters.append([start, end])
    line_re = re.compile(r"^\s*([0-9a-f]+):\t(.*)$")
    for start, end in clusters:
        out = _run(["objdump", "-d", "-z", "--no-show-raw-insn", "-w",
                    f"--start-address={start:#x}", f"--stop-address={end:#x}", image_path])
        for line in out.splitlines():
            m = line_re.match(line)
            if not m:
                continue
            addr = int(m.group(1), 16)
            i = bisect.bisect_right(starts, addr) - 1
            if i >= 0 and addr < ranges[i][1]:
                insns.append(parse_insn(addr, m.group(2), where(addr)))
    return insns


def _run(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise AuditError(f"cannot run {cmd[0]}: {e}") from e
    if p.returncode:
        raise AuditError(f"{' '.join(cmd)} failed: {p.stderr.strip()}")
    return p.stdout


# --- Checks ------------------------------------------------------------------

@dataclass
class CheckResult:
    id: str
    name: str
    status: str  # PASS or FAIL
    summary: str
    details: list[str] = field(default_factory=list)


CHECK_NAMES = {
    "0": "locate code in xen-syms",
    "1": "no x87/MMX/SSE/AVX",
    "2": "hook targets, endbr64 as .config asks",
    "3": "indirect branches as .config asks, no jump tables",
    "4": "returns as .config asks",
    "5": "object sections",
    "6": "relocation types",
    "7": "undefined symbols resolved by xen-syms",
    "8": "no red-zone use",
    "9": "W^X of our sections",
}


def check_result(names, id_, failures, ok_summary, fail_summary, details=()):
    """A CheckResult for check `id_` of the table `names`: FAIL listing
    `failures` (then `details`) if there are any, else PASS."""
    if failures:
        return CheckResult(id_, names[id_], "FAIL", fail_summary,
                           list(failures) + list(details))
    return CheckResult(id_, names[id_], "PASS", ok_summary, list(details))


def _result(id_, *args, **kwargs):
    return check_result(CHECK_NAMES, id_, *args, **kwargs)


def check_placement(pl: Placement) -> CheckResult:
    funcs = [s for s in pl.symbols if s.kind == "func"]
    code = sum(e - s for s, e in pl.code_ranges())
    return _result(
        "0", pl.problems,
        f"{len(funcs)} functions, {len(pl.code_ranges())} code sections, {code} bytes located",
        "some code of the objects cannot be located, so it cannot be audited",
        pl.notes)


# 1. FPU/SIMD ---------------------------------------------------------------

# Any x87/MMX/SSE/AVX/AVX-512 register operand.  "%st" is the x87 stack top;
# segment overrides (%fs:, %gs:) and general registers never match.
SIMD_REG_RE = re.compile(r"%(?:[xyz]mm\d+|mm[0-7]|st\b|k[0-7])")
# FPU/SIMD instructions that can appear without a SIMD register operand:
# memory-source conversions (cvttsd2si (%rax),%eax), MXCSR access, AVX state
# resets, MMX state exit and extended-state save/restore.
SIMD_MNEMONIC_RE = re.compile(
    r"v?cvt|v?(?:ld|st)mxcsr$|vzero(?:upper|all)$|emms$|xsave|xrstor")


def is_fpu_simd(insn: Insn) -> bool:
    # Every x86 mnemonic that starts with "f" is x87 or FPU-state management
    # (fxsave, fxrstor, femms): segment prefixes such as "fs" were already
    # split off by parse_insn, and "%fs:" lives in the operands.
    return bool(insn.mnemonic.startswith("f") or SIMD_MNEMONIC_RE.match(insn.mnemonic)
                or SIMD_REG_RE.search(insn.operands))


def check_fpu(insns: list[Insn]) -> CheckResult:
    bad = [i.show() for i in insns if is_fpu_simd(i)]
    return _result("1", bad,
                   f"none in {len(insns)} instructions",
                   f"{len(bad)} FPU/SIMD instructions (that register state belongs to the current vCPU)")


# 2. IBT ---------------------------------------------------------------------

@dataclass
class EndbrOutcome:
    script: str
    returncode: int
    output: str


def start_check_endbr(script: str, image_path: str) -> subprocess.Popen:
    """Xen's own tools/check-endbr.sh, started early: it runs in parallel."""
    if not os.path.isfile(script):
        raise AuditError(f"{script} not found (use --xen-tree)")
    return subprocess.Popen(["sh", script, image_path], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish_check_endbr(script: str, proc: subprocess.Popen) -> EndbrOutcome:
    out, _ = proc.communicate()
    return EndbrOutcome(script, proc.returncode, out.strip())


def run_check_endbr(script: str, image_path: str) -> EndbrOutcome:
    return finish_check_endbr(script, start_check_endbr(script, image_path))


def symbolizer_over(pairs):
    """addr -> 'symbol+0xoff' over (address, name) pairs."""
    labels = sorted(pairs)
    addrs = [a for a, _ in labels]

    def where(addr: int) -> str:
        i = bisect.bisect_right(addrs, addr) - 1
        if i < 0:
            return "?"
        a, name = labels[i]
        return name if a == addr else f"{name}+{addr - a:#x}"
    return where


def image_symbolizer(image: Elf):
    """addr -> 'symbol+0xoff' over all function symbols of the image."""
    return symbolizer_over((s.value, s.name) for s in image.symbols
                           if s.type == STT_FUNC and s.defined)


def hook_targets(image: Elf, table: PlacedSymbol | None,
                 table_name: str) -> tuple[list[str], list[tuple[str, int]]]:
    """(failures, [(label, address)]) for the code pointers in the hook table.

    Not IBT-specific: the table must be defined by the audited objects, be
    located in xen-syms and hold code pointers (else it is not the scheduler
    Xen calls, and no landing pad was checked)."""
    if table is None:
        return [f"hook table {table_name} is not defined by the audited objects "
                "or cannot be located in xen-syms"], []
    code = [s for s in image.sections if s.flags & SHF_EXECINSTR]
    where = image_symbolizer(image)
    data = image.read(table.addr, table.size)
    targets = []
    for off in range(0, table.size - 7, 8):
        ptr = struct.unpack_from("<Q", data, off)[0]
        if any(s.addr <= ptr < s.addr + s.size for s in code):
            targets.append((f"{table_name}+{off:#x} -> {ptr:016x} <{where(ptr)}>", ptr))
    if not targets:
        return [f"hook table {table_name} holds no pointer into code"], []
    return [], targets


def check_ibt(image: Elf, table: PlacedSymbol | None, table_name: str,
              endbr: EndbrOutcome) -> CheckResult:
    """CONFIG_XEN_IBT=y: every code pointer in the hook table must land on
    ENDBR64.

    With CET-IBT an indirect call to anything else raises #CP; Xen calls the
    scheduler exclusively through this table."""
    failures, targets = hook_targets(image, table, table_name)
    details = []
    for label, ptr in targets:
        ok = image.read(ptr, 4) == ENDBR64
        (details if ok else failures).append(f"{label}: " + ("endbr64" if ok else "NO endbr64"))
    if endbr.returncode:
        failures.append(f"{endbr.script} failed (rc={endbr.returncode}): {endbr.output}")
    else:
        details.append(f"{os.path.basename(endbr.script)}: OK")
    return _result("2", failures,
                   f"{len(targets)} hook targets have endbr64; check-endbr.sh passed",
                   "missing landing pads or check-endbr.sh failure", details)


def check_no_ibt(image: Elf, table: PlacedSymbol | None, table_name: str,
                 insns: list[Insn]) -> CheckResult:
    """CONFIG_XEN_IBT=n: the hook table as above, and no endbr64 at all.

    Xen is built with -fcf-protection=none then and never enables CET-IBT,
    so landing pads are not needed; any endbr64 in our code means the Rust
    flags (-Z cf-protection=branch) do not follow .config."""
    failures, targets = hook_targets(image, table, table_name)
    details = [f"{label}: no endbr64 needed" if image.read(ptr, 4) != ENDBR64
               else f"{label}: endbr64 (not built for CONFIG_XEN_IBT=n)"
               for label, ptr in targets]
    endbrs = [i.show() + "  (endbr64 without CONFIG_XEN_IBT)"
              for i in insns if i.mnemonic == "endbr64"]
    return _result("2", failures + endbrs,
                   f"{len(targets)} hook targets; no endbr64 in {len(insns)} instructions "
                   "(CONFIG_XEN_IBT=n)",
                   f"{len(endbrs)} endbr64 with CONFIG_XEN_IBT=n"
                   + (f", {len(failures)} hook table problems" if failures else ""),
                   details)


# 3. Indirect branches / jump tables -----------------------------------------

BRANCHES = {"call", "callq", "jmp", "jmpq", "lcall", "ljmp", "lcallq", "ljmpq"}
RODATA_LIKE = (".rodata", ".rodata.*", ".data.rel.ro", ".data.rel.ro.*")
PC_RELATIVE = {"R_X86_64_PC32", "R_X86_64_PC64", "R_X86_64_PLT32"}


def is_indirect_branch(insn: Insn) -> bool:
    # AT&T syntax marks register/memory targets with '*': "call *%rax",
    # "jmp *0x10(%rip)", "notrack jmp *%rax".  Calls to
    # __x86_indirect_thunk_* are direct and therefore allowed.
    return insn.mnemonic in BRANCHES and insn.operands.startswith("*")


def jump_table_relocs(objs: list[Elf]) -> list[str]:
    """Read-only data entries that point into code but not at a function.

    Function pointers (R_X86_64_64 to a function entry, like the hook table)
    are fine; PC-relative or mid-function code addresses in .rodata are what
    compilers emit for switch jump tables."""
    out = []
    for obj in objs:
        entries = {(s.shndx, s.value) for s in obj.symbols if s.type == STT_FUNC and s.defined}
        for r in obj.relocations():
            target = obj.section_of(r.sym)
            if (target is None or not target.flags & SHF_EXECINSTR
                    or not any(fnmatch.fnmatchcase(r.section.name, p) for p in RODATA_LIKE)):
                continue
            dest = (target.index, (0 if r.sym.type == STT_SECTION else r.sym.value) + r.addend)
            if r.type == "R_X86_64_64" and dest in entries:
                continue
            out.append(f"{os.path.basename(obj.path)}:{r.section.name}+{r.offset:#x} {r.type} -> "
                       f"{target.name}+{dest[1]:#x}"
                       + (" (PC-relative: jump-table entry)" if r.type in PC_RELATIVE
                          else " (not a function entry)"))
    return out


def uses_indirect_thunk(insn: Insn) -> bool:
    # call/jmp, and the conditional jumps compilers also aim at thunks.
    return "<__x86_indirect_thunk_" in insn.operands


def check_indirect(insns: list[Insn], objs: list[Elf]) -> CheckResult:
    """CONFIG_INDIRECT_THUNK=y: indirect branches only via the thunks."""
    bad = [i.show() for i in insns if is_indirect_branch(i)]
    tables = jump_table_relocs(objs)
    thunk_calls = sum(uses_indirect_thunk(i) for i in insns)
    return _result("3", bad + tables,
                   f"no indirect call/jmp; {thunk_calls} calls via __x86_indirect_thunk_*; "
                   "no jump-table data",
                   f"{len(bad)} indirect branches, {len(tables)} jump-table-like entries")


def check_plain_indirect(insns: list[Insn], objs: list[Elf]) -> CheckResult:
    """CONFIG_INDIRECT_THUNK=n: plain indirect call/jmp, no thunks.

    Xen then has no __x86_indirect_thunk_* (indirect-thunk.S is not built),
    so a branch to one means the Rust flags (-Z retpoline-external-thunk) do
    not follow .config.  Jump tables stay forbidden: -C jump-tables=no is
    unconditional, like Xen's -fno-jump-tables."""
    thunked = [i.show() + "  (thunk without CONFIG_INDIRECT_THUNK)"
               for i in insns if uses_indirect_thunk(i)]
    tables = jump_table_relocs(objs)
    plain = sum(is_indirect_branch(i) for i in insns)
    return _result("3", thunked + tables,
                   f"{plain} plain indirect call/jmp; no __x86_indirect_thunk_* "
                   "(CONFIG_INDIRECT_THUNK=n); no jump-table data",
                   f"{len(thunked)} branches to __x86_indirect_thunk_* with "
                   f"CONFIG_INDIRECT_THUNK=n, {len(tables)} jump-table-like entries")


# 4. Returns -----------------------------------------------------------------

RETURNS = {"ret", "retq", "retl", "retw", "lret", "lretq", "lretl", "lretw"}


NEAR_RETURNS = {"ret", "retq"}


def uses_return_thunk(insn: Insn) -> bool:
    return insn.operands.endswith("<__x86_return_thunk>")


def check_returns(insns: list[Insn]) -> CheckResult:
    """CONFIG_RETURN_THUNK=y: every return is jmp __x86_return_thunk."""
    bad = [i.show() for i in insns if i.mnemonic in RETURNS]
    thunked = sum(i.mnemonic in ("jmp", "jmpq") and uses_return_thunk(i) for i in insns)
    return _result("4", bad,
                   f"no ret; {thunked} returns via jmp __x86_return_thunk",
                   f"{len(bad)} bare returns")


def check_plain_returns(insns: list[Insn]) -> CheckResult:
    """CONFIG_RETURN_THUNK=n: plain near ret, no __x86_return_thunk.

    Xen then has no __x86_return_thunk, so a jump (or call) to it means the
    Rust flags (-Z function-return=thunk-extern) do not follow .config.  At
    least one ret must be there, else the returns went some other way that
    this check does not know.  Far returns are never Xen code."""
    thunked = [i.show() + "  (return thunk without CONFIG_RETURN_THUNK)"
               for i in insns if uses_return_thunk(i)]
    far = [i.show() + "  (far return)" for i in insns
           if i.mnemonic in RETURNS - NEAR_RETURNS]
    rets = sum(i.mnemonic in NEAR_RETURNS for i in insns)
    missing = [] if rets else [f"no ret in {len(insns)} instructions"]
    return _result("4", thunked + far + missing,
                   f"{rets} plain ret; no __x86_return_thunk (CONFIG_RETURN_THUNK=n)",
                   f"{len(thunked)} uses of __x86_return_thunk with CONFIG_RETURN_THUNK=n, "
                   f"{len(far)} far returns, {rets} plain ret")


# 5. Object sections ---------------------------------------------------------

FORBIDDEN_SECTIONS = {
    # Unwind tables: Xen never unwinds; they also mean panic=unwind code.
    ".eh_frame": "unwind tables", ".eh_frame_hdr": "unwind tables",
    ".gcc_except_table": "unwind tables", ".gcc_except_table.*": "unwind tables",
    # Static constructors/destructors: Xen's constructor support exists only
    # for gcov/UBSAN, destructors are silently discarded.
    ".init_array": "static constructors", ".init_array.*": "static constructors",
    ".preinit_array": "static constructors", ".ctors": "static constructors",
    ".ctors.*": "static constructors", ".fini_array": "static destructors",
    ".fini_array.*": "static destructors", ".dtors": "static destructors",
    ".dtors.*": "static destructors",
    # Thread-local storage does not exist in Xen.
    ".tdata": "TLS", ".tdata.*": "TLS", ".tbss": "TLS", ".tbss.*": "TLS",
}


# GCC's names for the constructor/destructor that `-fprofile-arcs` adds to a
# C file (__gcov_init/__gcov_exit registration).
GCOV_CTOR_PREFIX = {"static constructors": "_sub_I_", "static destructors": "_sub_D_"}


def gcov_ctor_problems(obj: Elf, sec: Section, why: str) -> list[str]:
    """With CONFIG_COVERAGE=y Xen compiles our C helpers with gcov, which
    adds one constructor (run by Xen's init_constructors()) and one
    destructor (discarded by xen.lds) per file. Such a section is allowed
    if each of its entries points at a local function of a C file named as
    GCC names those; anything else (a Rust or hand-written constructor) is
    not. Returns what is wrong, or nothing."""
    prefix = GCOV_CTOR_PREFIX.get(why)
    if prefix is None:
        return ["not a constructor or destructor"]
    relocs = [r for r in obj.relocations() if r.section is sec]
    if not relocs or len(relocs) * 8 != sec.size:
        return [f"{len(relocs)} relocations for {sec.size} bytes"]
    problems = []
    for r in relocs:
        if r.sym.type == STT_SECTION:
            addr = r.addend
            fn = next((f for f in obj.symbols if f.type == STT_FUNC and
                       f.shndx == r.sym.shndx and f.value == addr), None)
        else:
            fn = r.sym if r.sym.type == STT_FUNC and r.addend == 0 else None
        if fn is None or not fn.name.startswith(prefix) or not (fn.file or "").endswith(".c"):
            where = fn.name if fn else _target_name(obj, r) + f"+{r.addend:#x}"
            problems.append(f"entry -> {where} (not a gcov {prefix}* function of a C file)")
    return problems


def check_sections(objs: list[Elf], rules: list[tuple[str, str]],
                   coverage: bool = False) -> CheckResult:
    failures, details = [], []
    for obj in objs:
        oname = os.path.basename(obj.path)
        for sec in obj.sections:
            if sec.type in NON_INPUT_SECTION_TYPES:
                continue
            tag = f"{oname}:{sec.name}"
            why = next((w for p, w in FORBIDDEN_SECTIONS.items()
                        if fnmatch.fnmatchcase(sec.name, p)), None)
            if why and coverage and why in GCOV_CTOR_PREFIX:
                problems = gcov_ctor_problems(obj, sec, why)
                if not problems:
                    details.append(f"{tag}: gcov {why[7:-1]} of a C helper file "
                                   "(CONFIG_COVERAGE=y), allowed")
                    why = None
                else:
                    failures.extend(f"{tag}: {p}" for p in problems)
            if why:
                failures.append(f"{tag}: forbidden section ({why})")
            if sec.flags & SHF_TLS:
                failures.append(f"{tag}: TLS section")
            if sec.flags & SHF_WRITE and sec.flags & SHF_EXECINSTR:
                failures.append(f"{tag}: writable and executable")
            out = output_section_for(sec.name, rules)
            if out is not None:
                details.append(f"{tag} -> {out}")
            elif not sec.flags & SHF_ALLOC and sec.name.startswith(".debug_"):
                # Not loaded; at worst an --orphan-handling warning.
                details.append(f"{tag} -> (unlisted debug section, not loaded)")
            elif not why:
                failures.append(f"{tag}: orphan, no input pattern of xen.lds matches it")
    return _result("5", failures,
                   "no unwind/ctor/TLS/W+X/orphan sections",
                   "forbidden or orphan sections", details)


# 6. Relocations -------------------------------------------------------------

# Valid in a non-PIE static link anywhere in the address space.
STATIC_RELOCS = {"R_X86_64_PC32", "R_X86_64_PLT32", "R_X86_64_64", "R_X86_64_PC64"}
# Need a GOT slot unless the linker relaxes them into direct references.
RELAXABLE_GOT_RELOCS = {"R_X86_64_GOTPCRELX", "R_X86_64_REX_GOTPCRELX"}
# 32-bit absolute: Xen lives at 0xffff82d040200000, outside both the low and
# the top 2 GiB, so these cannot be resolved.
ABS32_RELOCS = {"R_X86_64_32", "R_X86_64_32S"}


def _target_name(obj: Elf, r: Reloc) -> str:
    return obj.sections[r.sym.shndx].name if r.sym.type == STT_SECTION else r.sym.name


def check_relocations(objs: list[Elf], got_size: int) -> CheckResult:
    """Relocation types in the allocated sections of the objects.

    Relocations of non-allocated sections (.debug_*) are never loaded and use
    R_X86_64_32 for DWARF offsets legitimately; they are only counted."""
    counts: dict[str, int] = {}
    debug_counts: dict[str, int] = {}
    failures = []
    for obj in objs:
        for r in obj.relocations():
            if not r.section.flags & SHF_ALLOC:
                debug_counts[r.type] = debug_counts.get(r.type, 0) + 1
                continue
            counts[r.type] = counts.get(r.type, 0) + 1
            if r.type in STATIC_RELOCS or (r.type in RELAXABLE_GOT_RELOCS and got_size == 0):
                continue
            reason = ("32-bit absolute, Xen is not in the low/top 2 GiB" if r.type in ABS32_RELOCS
                      else "needs a GOT, and xen-syms has a non-empty .got"
                      if r.type in RELAXABLE_GOT_RELOCS
                      else "not valid in Xen's static link")
            failures.append(f"{os.path.basename(obj.path)}:{r.section.name}+{r.offset:#x} "
                            f"{r.type} {_target_name(obj, r)}{r.addend:+#x}: {reason}")
    types = ", ".join(f"{t}x{n}" for t, n in sorted(counts.items()))
    details = [f"loaded sections: {types or 'none'}",
               "debug sections (not checked): "
               + (", ".join(f"{t}x{n}" for t, n in sorted(debug_counts.items())) or "none")]
    if any(t in RELAXABLE_GOT_RELOCS for t in counts):
        details.append(f"GOTPCRELX accepted only because xen-syms .got is empty ({got_size} bytes)")
    return _result("6", failures, f"only {types or 'no relocations'}",
                   f"{len(failures)} relocations not valid for Xen", details)


# 7. Undefined symbols / GOT --------------------------------------------------

def check_undefined(objs: list[Elf], image: Elf) -> CheckResult:
    failures, details = [], []
    seen = set()
    for obj in objs:
        for sym in obj.symbols:
            if sym.defined or not sym.name or sym.name in seen:
                continue
            seen.add(sym.name)
            defs = [c for c in image.by_name.get(sym.name, ())
                    if c.defined and c.bind != STB_LOCAL and c.type != STT_FILE]
            if defs:
                details.append(f"{sym.name} = {defs[0].value:#x}")
            else:
                failures.append(f"{os.path.basename(obj.path)}: {sym.name} is not defined "
                                f"by {os.path.basename(image.path)}")
    sizes = {n: image.section_size(n) for n in (".got", ".got.plt", ".plt")}
    details.insert(0, "xen-syms " + ", ".join(f"{n}: {v} bytes" for n, v in sizes.items()))
    return _result("7", failures,
                   f"all {len(seen)} undefined symbols are defined in xen-syms",
                   f"{len(failures)} undefined symbols are missing", details)


# 8. Red zone ------------------------------------------------------------------

# Memory operand with a negative displacement from the stack pointer.
RED_ZONE_RE = re.compile(r"-0x[0-9a-f]+\(%[er]sp(?:,[^)]*)?\)")


def check_red_zone(insns: list[Insn]) -> CheckResult:
    """Accesses below %rsp: an interrupt/exception on Xen's stack would
    clobber them.  Loads are reported too, as they only make sense after a
    red-zone store; lea merely computes an address."""
    bad = []
    for i in insns:
        hits = [] if i.mnemonic.startswith("lea") else list(RED_ZONE_RE.finditer(i.operands))
        if hits:
            # AT&T syntax: the destination is the last operand.
            kind = "store" if hits[-1].end() == len(i.operands) else "load"
            bad.append(f"{i.show()}  ({kind} below %rsp)")
    return _result("8", bad, f"no access below %rsp in {len(insns)} instructions",
                   f"{len(bad)} accesses below %rsp")


# 9. W+X ----------------------------------------------------------------------

TEXT_REGION = "text (RX)"
REGION_SYMBOLS = {
    # Runtime mappings Xen sets up from these linker-script symbols.
    TEXT_REGION: ("_stext", "__2M_text_end"),
    "rodata (RO)": ("__2M_rodata_start", "__2M_rodata_end"),
    "init (RWX, freed after boot)": ("__2M_init_start", "__2M_init_end"),
    "rwdata (RW)": ("__2M_rwdata_start", "__2M_rwdata_end"),
}


def xen_regions(image: Elf) -> dict[str, tuple[int, int]]:
    regions = {}
    for region, names in REGION_SYMBOLS.items():
        syms = [next((s for s in image.by_name.get(n, ()) if s.defined), None) for n in names]
        if None in syms:
            raise AuditError(f"{image.path}: no {'/'.join(names)} symbols; not a Xen image?")
        regions[region] = (syms[0].value, syms[1].value)
    return regions


def check_wx(image: Elf, pl: Placement, regions: dict[str, tuple[int, int]]) -> CheckResult:
    """Xen's xen-syms has a single RWE PT_LOAD (linked with `ld -N`, one PHDR
    in xen.lds) and every output section carries SHF_WRITE, so segment and
    section flags are a baseline, not attributable.  What our objects can
    break is the runtime W^X that Xen derives from the __2M_* regions: our
    code must sit in the RX text region, our writable data outside it."""
    details = []
    for seg in image.segments:
        if seg.type == PT_LOAD:
            flags = "".join(c for b, c in ((PF_R, "R"), (PF_W, "W"), (PF_X, "E")) if seg.flags & b)
            details.append(f"PT_LOAD {seg.vaddr:#x} memsz {seg.memsz:#x} {flags}"
                           + (" (Xen baseline)" if flags == "RWE" else ""))

    def region_of(addr):
        return next((r for r, (lo, hi) in regions.items() if lo <= addr < hi), "outside any region")

    failures = []
    for s in pl.sections:
        region = region_of(s.addr)
        tag = f"{s.obj}:{s.name} @ {s.addr:#x} in {region}"
        if s.flags & SHF_EXECINSTR and region != TEXT_REGION:
            failures.append(f"{tag}: code outside the RX text region")
        elif s.flags & SHF_WRITE and region == TEXT_REGION:
            failures.append(f"{tag}: writable data inside the RX text region")
        else:
            details.append(tag)
    return _result("9", failures,
                   "our code is only in the RX region, our writable data outside it",
                   "our sections break Xen's runtime W^X", details)


# --- Driver ------------------------------------------------------------------

@dataclass
class Report:
    result: str
    elapsed_s: float
    inputs: dict
    functions: list[dict]
    checks: list[CheckResult]


def xen_dir(path: str) -> str:
    """Accept either the Xen tree's top level or its xen/ subdirectory."""
    sub = os.path.join(path, "xen")
    return sub if os.path.isfile(os.path.join(sub, "tools", "check-endbr.sh")) else path


def run_audit(xen_syms: str, config_path: str, objects: list[str], hook_table: str,
              xen_tree: str | None = None, lds: str | None = None) -> Report:
    t0 = time.monotonic()
    tree = xen_dir(xen_tree or os.path.dirname(os.path.abspath(xen_syms)))
    lds = lds or os.path.join(tree, "arch", "x86", "xen.lds")
    script = os.path.join(tree, "tools", "check-endbr.sh")
    config = load_config(config_path)
    enabled = {k: config.get(k) == "y"
               for k in ("CONFIG_XEN_IBT", "CONFIG_INDIRECT_THUNK", "CONFIG_RETURN_THUNK")}
    try:
        with open(lds, encoding="utf-8") as f:
            rules = parse_lds(f.read())
    except OSError as e:
        raise AuditError(f"cannot read linker script {lds}: {e} (use --lds)") from e

    endbr_proc = start_check_endbr(script, xen_syms) if enabled["CONFIG_XEN_IBT"] else None
    try:
        image = Elf(xen_syms)
        objs = [Elf(p) for p in objects]
        pl = place_objects(image, objs)
        insns = disassemble(xen_syms, pl.code_ranges(), pl.symbolizer())
        regions = xen_regions(image)
    except AuditError:
        if endbr_proc:  # don't leave Xen's script running behind an error
            endbr_proc.kill()
            endbr_proc.wait()
        raise

    # Checks 2-4 have a form per .config: the mitigation with the option on,
    # the plain code (and no trace of the mitigation) with it off.
    checks = [check_placement(pl), check_fpu(insns)]
    if endbr_proc:
        checks.append(check_ibt(image, pl.find_symbol(hook_table), hook_table,
                                finish_check_endbr(script, endbr_proc)))
    else:
        checks.append(check_no_ibt(image, pl.find_symbol(hook_table), hook_table, insns))
    checks.append(check_indirect(insns, objs) if enabled["CONFIG_INDIRECT_THUNK"]
                  else check_plain_indirect(insns, objs))
    checks.append(check_returns(insns) if enabled["CONFIG_RETURN_THUNK"]
                  else check_plain_returns(insns))
    checks += [check_sections(objs, rules, coverage=config.get("CONFIG_COVERAGE") == "y"),
               check_relocations(objs, image.section_size(".got")),
               check_undefined(objs, image),
               check_red_zone(insns),
               check_wx(image, pl, regions)]

    functions = [{"object": s.obj, "name": s.name, "address": f"{s.addr:#x}", "size": s.size}
                 for s in sorted(pl.symbols, key=lambda s: s.addr) if s.kind == "func"]
    return Report("FAIL" if any(c.status == "FAIL" for c in checks) else "PASS",
                  round(time.monotonic() - t0, 3),
                  {"xen_syms": xen_syms, "config": config_path, "objects": objects,
                   "hook_table": hook_table, "lds": lds,
                   "required": [k for k, v in enabled.items() if v],
                   "instructions": len(insns)},
                  functions, checks)


def format_report(rep: Report) -> str:
    inp = rep.inputs
    lines = ["Xen binary audit",
             f"  xen-syms:   {inp['xen_syms']}",
             f"  objects:    {' '.join(inp['objects'])}",
             f"  hook table: {inp['hook_table']}",
             f"  required by .config: {', '.join(inp['required']) or 'none'}",
             f"  audited: {len(rep.functions)} functions, {inp['instructions']} instructions", ""]
    for c in rep.checks:
        lines.append(f"[{c.status}] {c.id}. {c.name}: {c.summary}")
        lines += [f"       {d}" for d in c.details]
    failed = [c for c in rep.checks if c.status == "FAIL"]
    lines += ["", f"RESULT: {rep.result} ({len(failed)} of {len(rep.checks)} checks failed, "
                  f"{rep.elapsed_s:.2f}s)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xen-syms", required=True)
    ap.add_argument("--config", required=True, help="Xen's .config")
    ap.add_argument("--object", action="append", required=True, dest="objects",
                    help="relocatable object linked into Xen (repeatable)")
    ap.add_argument("--hook-table", required=True, help="struct scheduler symbol")
    ap.add_argument("--xen-tree", help="Xen tree (default: directory of --xen-syms)")
    ap.add_argument("--lds", help="preprocessed linker script (default: <xen>/arch/x86/xen.lds)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        rep = run_audit(args.xen_syms, args.config, args.objects, args.hook_table,
                        args.xen_tree, args.lds)
    except AuditError as e:
        print(f"audit: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(rep), indent=2) if args.json else format_report(rep))
    return 1 if rep.result == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
