"""Tests for audit.py.

CReferenceBuild: the audit must accept Xen's own C null scheduler as built
from the reference tree (XEN_TREE, default /work/cache/build-c).

The other classes prove that each check bites: they assemble tiny objects
that violate exactly one rule, link them at Xen's address with a plain `ld`
where the check needs an image, and run the check function on them next to
a clean control function that must not be reported.  PlainForms does the
same for checks 2-4 with their .config option off (plain code required,
any endbr64 or thunk rejected).

Run: python3 -m unittest discover -s tests/audit -v
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from tests.audit import audit

AUDIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audit.py")
XEN_TREE = os.environ.get("XEN_TREE", "/work/cache/build-c")
XEN = os.path.join(XEN_TREE, "xen")
XEN_SYMS = os.path.join(XEN, "xen-syms")
CHECK_ENDBR = os.path.join(XEN, "tools", "check-endbr.sh")
XEN_BASE = 0xFFFF82D040200000

# The thunks Xen provides; linked into every fake image but never audited.
STUBS = """
    .text
    .globl __x86_return_thunk, __x86_indirect_thunk_rax
__x86_return_thunk:
    ret
__x86_indirect_thunk_rax:
    jmp *%rax
"""

# Code every instruction-level check must accept, including the usual false
# positive traps: "fs" prefix, %fs: segment override, lfence/movnti (integer
# SSE2-era), lea below %rsp, frame-pointer locals, thunked branches.
CLEAN = """
    .section .text.clean,"ax",@progbits
    .globl clean
    .type clean,@function
clean:
    endbr64
    .byte 0x64
    nop
    mov %fs:0x28,%rax
    lfence
    movnti %rax,(%rdi)
    rep stosb
    lea -0x8(%rsp),%rax
    mov %rax,-0x8(%rbp)
    mov %rcx,0x8(%rsp)
    call __x86_indirect_thunk_rax
    jmp __x86_return_thunk
    .size clean,.-clean
"""

# What every check must accept with CONFIG_XEN_IBT, CONFIG_INDIRECT_THUNK and
# CONFIG_RETURN_THUNK off: no landing pad, plain indirect branches, plain ret
# (also "rep ret" and "ret $imm").
PLAIN = """
    .section .text.plain,"ax",@progbits
    .globl plain
    .type plain,@function
plain:
    .byte 0x64
    nop
    mov %fs:0x28,%rax
    call *%rax
    call *0x8(%rdi)
    test %eax,%eax
    je 1f
    notrack jmp *%rcx
1:  lea -0x8(%rsp),%rax
    rep ret
    ret $0x8
    ret
    .size plain,.-plain
"""

# A trimmed Xen-style linker script; the real one is tested in CReferenceBuild.
MINI_LDS = """
PHDRS { text PT_LOAD ; }
SECTIONS
{
  . = 0xffff82d040200000;
  .text : AT(ADDR(".text") - 0x1000) {
       *(.text.cold)
       *(.text)
       *(.text.*)
  } :text = 0x9090
  .rodata : { *(.rodata) *(.rodata.*) *(.data.rel.ro) *(.data.rel.ro.*) } :text
  .note : { *(.note.*) } :note :text
  .init.data : { *(SORT_BY_INIT_PRIORITY(.init_array.*)) *(.init_array) } :text
  .data : { *(.data .data.*) } :text
  .bss : { *(.bss .bss.*) } :text
  .debug_info 0 : { *(.debug_info) } .debug_abbrev 0 : { *(.debug_abbrev) }
  /DISCARD/ : { *(.discard) *(.eh_frame) *(.fini_array) *(.fini_array.*) }
  .comment 0 : { *(.comment) *(.comment.*) } .symtab 0 : { *(.symtab) }
}
"""


def sh(*cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{p.stderr}")
    return p.stdout


class Toolchain(unittest.TestCase):
    """Builds bad objects and fake xen-syms images in a temporary directory."""

    @classmethod
    def setUpClass(cls):
        missing = [t for t in ("as", "ld", "gcc", "objdump") if not shutil.which(t)]
        if missing:
            raise unittest.SkipTest(f"missing tools: {', '.join(missing)}")

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="audit-test-")
        self.addCleanup(shutil.rmtree, self.tmp)
        self.stubs = self.asm("stubs", STUBS)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def asm(self, name, source, *flags):
        src, obj = self.path(name + ".s"), self.path(name + ".o")
        with open(src, "w") as f:
            f.write(source)
        sh("as", "--64", *flags, "-o", obj, src)
        return obj

    def cc(self, name, source, *flags):
        src, obj = self.path(name + ".c"), self.path(name + ".o")
        with open(src, "w") as f:
            f.write(source)
        sh("gcc", "-c", "-O2", *flags, "-o", obj, src)
        return obj

    def link(self, *objs):
        image = self.path("xen-syms")
        sh("ld", "-o", image, f"-Ttext={XEN_BASE:#x}", "-e", "0",
           "--no-warn-rwx-segments", self.stubs, *objs)
        return image

    def image_code(self, *objs):
        """(image Elf, object Elfs, placement, audited instructions)."""
        image_path = self.link(*objs)
        image, elfs = audit.Elf(image_path), [audit.Elf(o) for o in objs]
        pl = audit.place_objects(image, elfs)
        self.assertEqual(pl.problems, [])
        return image, elfs, pl, audit.disassemble(image_path, pl.code_ranges(), pl.symbolizer())

    def assertFailsOn(self, result, bad, good=("clean",)):
        """FAIL, every `bad` item reported, none of `good` reported."""
        text = "\n".join(result.details)
        self.assertEqual(result.status, "FAIL", text)
        for b in bad:
            self.assertIn(b, text)
        for g in good:
            self.assertNotIn(f"<{g}", text)


def function(name, body, section=None):
    return f"""
    .section {section or '.text.' + name},"ax",@progbits
    .globl {name}
    .type {name},@function
{name}:
{body}
    .size {name},.-{name}
"""


class InstructionChecks(Toolchain):
    def test_clean_code_passes_every_instruction_check(self):
        _, objs, _, insns = self.image_code(self.asm("clean", CLEAN))
        self.assertGreater(len(insns), 10)
        for result in (audit.check_fpu(insns), audit.check_indirect(insns, objs),
                       audit.check_returns(insns), audit.check_red_zone(insns)):
            self.assertEqual(result.status, "PASS", result)

    def test_fpu_simd_is_rejected(self):
        bad = function("simd", """
    pxor %xmm0,%xmm0
    movaps %xmm1,(%rdi)
    vpaddd %ymm0,%ymm1,%ymm2
    movq %mm0,%rax
    fldz
    fnstcw (%rax)
    fxsave (%rdi)
    cvttsd2si (%rax),%eax
    ldmxcsr (%rdi)
    vzeroupper
    """)
        _, _, _, insns = self.image_code(self.asm("simd", CLEAN + bad))
        result = audit.check_fpu(insns)
        self.assertFailsOn(result, ["pxor", "movaps", "vpaddd", "%mm0", "fldz", "fnstcw",
                                    "fxsave", "cvttsd2si", "ldmxcsr", "vzeroupper"])
        self.assertEqual(len(result.details), 10)

    def test_bare_return_is_rejected(self):
        bad = function("rets", "    ret\n    ret $0x8\n    rep ret\n    lret\n")
        _, _, _, insns = self.image_code(self.asm("rets", CLEAN + bad))
        result = audit.check_returns(insns)
        self.assertFailsOn(result, ["<rets>: ret", "ret    $0x8", "repz ret", "lret"])
        self.assertEqual(len(result.details), 4)

    def test_indirect_branch_is_rejected(self):
        bad = function("indirect", """
    call *%rax
    call *(%rax)
    jmp *0x10(%rip)
    notrack jmp *%rax
    """)
        _, objs, _, insns = self.image_code(self.asm("indirect", CLEAN + bad))
        result = audit.check_indirect(insns, objs)
        self.assertFailsOn(result, ["call   *%rax", "call   *(%rax)", "jmp    *0x10(%rip)",
                                    "notrack jmp *%rax"])
        self.assertEqual(len(result.details), 4)

    def test_red_zone_access_is_rejected(self):
        bad = function("redzone", """
    mov %rax,-0x8(%rsp)
    movl $1,-0x4(%rsp)
    mov -0x10(%rsp,%rax,8),%rax
    mov %rax,-0x10(%rsp,%rcx,8)
    """)
        _, _, _, insns = self.image_code(self.asm("redzone", CLEAN + bad))
        result = audit.check_red_zone(insns)
        self.assertFailsOn(result, ["<redzone>: mov    %rax,-0x8(%rsp)  (store",
                                    "movl   $0x1,-0x4(%rsp)  (store",
                                    "mov    -0x10(%rsp,%rax,8),%rax  (load",
                                    "mov    %rax,-0x10(%rsp,%rcx,8)  (store"])
        self.assertEqual(len(result.details), 4)


class PlainForms(Toolchain):
    """Checks 2-4 with their option off: the plain form is required, and any
    trace of the mitigation means the Rust flags do not follow .config."""

    TABLE = """
    .section .rodata.sched,"a"
    .globl sched_def
    .type sched_def,@object
sched_def:
    .quad 0
    .quad {first}
    .quad {second}
    .size sched_def,.-sched_def
"""

    def test_plain_code_passes(self):
        obj = self.asm("plain", PLAIN + self.TABLE.format(first="plain", second="plain"))
        image, objs, pl, insns = self.image_code(obj)
        indirect = audit.check_plain_indirect(insns, objs)
        self.assertEqual(indirect.status, "PASS", indirect)
        self.assertTrue(indirect.summary.startswith("3 plain indirect call/jmp"), indirect)
        returns = audit.check_plain_returns(insns)
        self.assertEqual(returns.status, "PASS", returns)
        self.assertTrue(returns.summary.startswith("3 plain ret"), returns)
        ibt = audit.check_no_ibt(image, pl.find_symbol("sched_def"), "sched_def", insns)
        self.assertEqual(ibt.status, "PASS", ibt)
        self.assertEqual(len([d for d in ibt.details if "<plain>: no endbr64 needed" in d]), 2)
        for result in (audit.check_fpu(insns), audit.check_red_zone(insns)):
            self.assertEqual(result.status, "PASS", result)
        # The same code is rejected by the forms for the options on.
        self.assertEqual(audit.check_indirect(insns, objs).status, "FAIL")
        self.assertEqual(audit.check_returns(insns).status, "FAIL")
        ok = audit.EndbrOutcome("check-endbr.sh", 0, "")
        self.assertEqual(audit.check_ibt(image, pl.find_symbol("sched_def"), "sched_def",
                                         ok).status, "FAIL")

    def test_return_thunk_without_return_thunk_is_rejected(self):
        bad = function("thunked", """
    test %eax,%eax
    jne __x86_return_thunk
    call __x86_return_thunk
    jmp __x86_return_thunk
""")
        _, _, _, insns = self.image_code(self.asm("rthunk", PLAIN + bad))
        result = audit.check_plain_returns(insns)
        self.assertFailsOn(result, ["<thunked+0x2>: jne", "<thunked+0x8>: call",
                                    "<thunked+0xd>: jmp"], good=("plain",))
        self.assertEqual(len(result.details), 3)
        self.assertTrue(all("return thunk without CONFIG_RETURN_THUNK" in d
                            for d in result.details))

    def test_clean_thunked_code_is_rejected_with_options_off(self):
        image, objs, pl, insns = self.image_code(self.asm("clean", CLEAN + self.TABLE.format(
            first="clean", second="clean")))
        self.assertFailsOn(audit.check_plain_returns(insns),
                           ["<clean+", "<__x86_return_thunk>", "no ret in"], good=())
        self.assertFailsOn(audit.check_plain_indirect(insns, objs),
                           ["<clean+", "<__x86_indirect_thunk_rax>",
                            "thunk without CONFIG_INDIRECT_THUNK"], good=())
        self.assertFailsOn(audit.check_no_ibt(image, pl.find_symbol("sched_def"), "sched_def",
                                              insns),
                           ["<clean>: endbr64  (endbr64 without CONFIG_XEN_IBT)",
                            "sched_def+0x10 -> ", "<clean>: endbr64 (not built for"], good=())

    def test_no_ret_at_all_is_rejected(self):
        _, _, _, insns = self.image_code(self.asm("noret", function("noret", "    jmp *%rax\n")))
        result = audit.check_plain_returns(insns)
        self.assertFailsOn(result, ["no ret in 1 instructions"])

    def test_far_return_is_rejected(self):
        bad = function("far", "    lret\n    lretq\n")
        _, _, _, insns = self.image_code(self.asm("far", PLAIN + bad))
        result = audit.check_plain_returns(insns)
        self.assertFailsOn(result, ["<far>: lret", "(far return)"], good=("plain",))
        self.assertEqual(len(result.details), 2)

    def test_indirect_thunk_without_indirect_thunk_is_rejected(self):
        bad = function("thunked", """
    call __x86_indirect_thunk_rax
    test %eax,%eax
    je __x86_indirect_thunk_rax
    jmp __x86_indirect_thunk_rax
""")
        _, objs, _, insns = self.image_code(self.asm("ithunk", PLAIN + bad))
        result = audit.check_plain_indirect(insns, objs)
        self.assertFailsOn(result, ["<thunked>: call", "<thunked+0x7>: je",
                                    "<thunked+0xd>: jmp"], good=("plain",))
        self.assertEqual(len(result.details), 3)

    def test_jump_table_is_still_rejected(self):
        obj = self.cc("switch", JumpTables.SWITCH, "-fpic", "-fjump-tables",
                      "-fno-asynchronous-unwind-tables", "-fcf-protection=none")
        _, objs, _, insns = self.image_code(obj)
        result = audit.check_plain_indirect(insns, objs)
        self.assertFailsOn(result, ["R_X86_64_PC32 -> .text+", "jump-table entry"])
        self.assertNotIn("jmp    *%rax", "\n".join(result.details))  # plain jmp * is fine

    def test_endbr64_without_ibt_is_rejected(self):
        # A landing pad in the middle of a hook target, not only at its start.
        bad = function("padded", "    nop\n    endbr64\n    ret\n")
        image, _, pl, insns = self.image_code(self.asm("padded", PLAIN + bad + self.TABLE.format(
            first="plain", second="padded")))
        result = audit.check_no_ibt(image, pl.find_symbol("sched_def"), "sched_def", insns)
        self.assertFailsOn(result, ["<padded+0x1>: endbr64  (endbr64 without CONFIG_XEN_IBT)"],
                           good=())
        self.assertIn("no endbr64 needed", "\n".join(result.details))
        self.assertEqual(len([d for d in result.details if "without CONFIG_XEN_IBT" in d]), 1)

    def test_missing_or_empty_hook_table_is_rejected(self):
        empty = """
    .section .rodata.empty,"a"
    .globl empty_def
    .type empty_def,@object
empty_def:
    .quad 0
    .long 7
    .long 0
    .size empty_def,.-empty_def
"""
        image, _, pl, insns = self.image_code(self.asm("plain", PLAIN + empty))
        self.assertFailsOn(audit.check_no_ibt(image, pl.find_symbol("nope"), "nope", insns),
                           ["hook table nope is not defined"])
        self.assertFailsOn(audit.check_no_ibt(image, pl.find_symbol("empty_def"), "empty_def",
                                              insns),
                           ["hook table empty_def holds no pointer into code"])
        ok = audit.EndbrOutcome("check-endbr.sh", 0, "")
        self.assertFailsOn(audit.check_ibt(image, pl.find_symbol("empty_def"), "empty_def", ok),
                           ["hook table empty_def holds no pointer into code"])


class JumpTables(Toolchain):
    SWITCH = """
int dispatch(int x, int y)
{
    switch (x) {
    case 0: return y + 1;  case 1: return y * 3;  case 2: return y - 7;
    case 3: return y ^ 5;  case 4: return y << 2; case 5: return y / 3;
    case 6: return y % 7;
    }
    return 0;
}
"""

    def test_jump_table_is_rejected(self):
        obj = self.cc("switch", self.SWITCH, "-fpic", "-fjump-tables",
                      "-fno-asynchronous-unwind-tables")
        entries = audit.jump_table_relocs([audit.Elf(obj)])
        self.assertTrue(entries)
        self.assertTrue(all(".rodata" in e and "jump-table" in e for e in entries), entries)
        _, objs, _, insns = self.image_code(obj)
        result = audit.check_indirect(insns, objs)
        self.assertFailsOn(result, ["<dispatch+", "jmp    *%rax", "R_X86_64_PC32 -> .text+"])

    def test_function_pointer_table_is_not_a_jump_table(self):
        table = """
    .section .rodata.ops,"a"
    .globl ops
ops:
    .quad clean
"""
        self.assertEqual(audit.jump_table_relocs([audit.Elf(self.asm("ops", CLEAN + table))]), [])


class HookTable(Toolchain):
    TABLE = """
    .section .rodata.str,"aMS",@progbits,1
name:
    .asciz "null"
    .section .rodata.sched,"a"
    .globl sched_def
    .type sched_def,@object
sched_def:
    .quad name
    .long 7
    .long 0
    .quad 0
    .quad clean
    .quad no_landing_pad
    .size sched_def,.-sched_def
"""

    def test_hook_without_endbr64_is_rejected(self):
        bad = function("no_landing_pad", "    jmp __x86_return_thunk\n")
        image, _, pl, _ = self.image_code(self.asm("table", CLEAN + bad + self.TABLE))
        ok = audit.EndbrOutcome("check-endbr.sh", 0, "")
        result = audit.check_ibt(image, pl.find_symbol("sched_def"), "sched_def", ok)
        self.assertEqual(result.status, "FAIL")
        failures = [d for d in result.details if "NO endbr64" in d]
        self.assertEqual(len(failures), 1)
        self.assertIn("sched_def+0x20 -> ", failures[0])
        self.assertIn("<no_landing_pad>", failures[0])
        self.assertTrue(any("sched_def+0x18" in d and "<clean>: endbr64" in d
                            for d in result.details))

    def test_missing_hook_table_is_rejected(self):
        image, _, pl, _ = self.image_code(self.asm("clean", CLEAN))
        ok = audit.EndbrOutcome("check-endbr.sh", 0, "")
        self.assertEqual(audit.check_ibt(image, pl.find_symbol("nope"), "nope", ok).status,
                         "FAIL")

    @unittest.skipUnless(os.path.isfile(CHECK_ENDBR), f"{CHECK_ENDBR} not found")
    def test_check_endbr_sh_failure_is_reported(self):
        embedded = function("embedded", "    endbr64\n    mov $0xfa1e0ff3,%eax\n"
                                        "    jmp __x86_return_thunk\n")
        image_path = self.link(self.asm("clean", CLEAN))
        self.assertEqual(audit.run_check_endbr(CHECK_ENDBR, image_path).returncode, 0)
        obj = self.asm("embedded", CLEAN + embedded + self.TABLE.replace(
            "no_landing_pad", "embedded"))
        image_path = self.link(obj)
        outcome = audit.run_check_endbr(CHECK_ENDBR, image_path)
        self.assertNotEqual(outcome.returncode, 0)
        image = audit.Elf(image_path)
        pl = audit.place_objects(image, [audit.Elf(obj)])
        result = audit.check_ibt(image, pl.find_symbol("sched_def"), "sched_def", outcome)
        self.assertEqual(result.status, "FAIL")
        self.assertTrue(any("check-endbr.sh failed" in d for d in result.details))


class ObjectChecks(Toolchain):
    def setUp(self):
        super().setUp()
        self.rules = audit.parse_lds(MINI_LDS)

    def test_mini_lds_parses(self):
        out = dict((p, o) for p, o in reversed(self.rules))
        self.assertEqual(out[".text.*"], ".text")
        self.assertEqual(out[".init_array.*"], ".init.data")
        self.assertEqual(out[".note.*"], ".note")
        self.assertEqual(out[".eh_frame"], "/DISCARD/")
        self.assertEqual(out[".debug_abbrev"], ".debug_abbrev")

    def test_clean_objects_pass(self):
        clean_c = self.cc("plain", "int f(int x) { return x + 1; }",
                          "-fno-asynchronous-unwind-tables", "-g")
        result = audit.check_sections([audit.Elf(self.asm("clean", CLEAN)),
                                       audit.Elf(clean_c)], self.rules)
        self.assertEqual(result.status, "PASS", result)

    def test_eh_frame_is_rejected(self):
        obj = self.cc("unwind", "int f(int x) { return x + 1; }", "-fasynchronous-unwind-tables")
        result = audit.check_sections([audit.Elf(obj)], self.rules)
        self.assertFailsOn(result, ["unwind.o:.eh_frame: forbidden section (unwind tables)"])

    def test_gcov_constructors_only_with_coverage(self):
        """CONFIG_COVERAGE=y: Xen compiles the C helpers with gcov, whose
        per-file constructor/destructor are Xen's business (found by a
        randconfig). Allowed then, and only those."""
        obj = self.cc("gcov", "int f(int x) { return x + 1; }",
                      "-fprofile-arcs", "-fno-asynchronous-unwind-tables")
        result = audit.check_sections([audit.Elf(obj)], self.rules, coverage=True)
        self.assertEqual(result.status, "PASS", result)
        self.assertTrue(any("gcov constructor of a C helper file" in d
                            for d in result.details), result.details)
        result = audit.check_sections([audit.Elf(obj)], self.rules)
        self.assertFailsOn(result, [
            "gcov.o:.init_array.00100: forbidden section (static constructors)"])

    def test_other_constructors_rejected_with_coverage(self):
        # A constructor that is not gcov's: an ordinary function, and one
        # named like gcov's but not from a C file.
        obj = self.asm("ctors", CLEAN + """
    .section .text
    .type _sub_I_00100_0, @function
_sub_I_00100_0:
    ret
    .section .init_array.00100,"aw"
    .quad clean
    .section .fini_array.00100,"aw"
    .quad _sub_I_00100_0
""")
        result = audit.check_sections([audit.Elf(obj)], self.rules, coverage=True)
        self.assertFailsOn(result, [
            "ctors.o:.init_array.00100: entry -> clean (not a gcov _sub_I_*",
            "ctors.o:.fini_array.00100: entry -> _sub_I_00100_0 (not a gcov _sub_D_*"])

    def test_bad_sections_are_rejected(self):
        obj = self.asm("sections", CLEAN + """
    .section .text.wx,"awx",@progbits
    nop
    .section .tbss,"awT",@nobits
    .zero 8
    .section .init_array,"aw"
    .quad clean
    .section .weird,"a"
    .byte 1
    .section .debug_gdb_scripts,"aMS",@progbits,1
    .asciz "x"
    .section .debug_str_offsets,"",@progbits
    .long 0
""")
        result = audit.check_sections([audit.Elf(obj)], self.rules)
        self.assertFailsOn(result, [
            ".text.wx: writable and executable",
            ".tbss: forbidden section (TLS)", ".tbss: TLS section",
            ".init_array: forbidden section (static constructors)",
            ".weird: orphan", ".debug_gdb_scripts: orphan"])
        self.assertIn("sections.o:.debug_str_offsets -> (unlisted debug section, not loaded)",
                      result.details)

    def test_32bit_absolute_relocations_are_rejected(self):
        obj = self.asm("abs32", function("abs", """
    endbr64
    movq $ext, %rax
    movl $ext, %eax
    lea ext(%rip), %rax
    call ext
    jmp __x86_return_thunk
""") + "    .data\n    .quad ext\n")
        result = audit.check_relocations([audit.Elf(obj)], got_size=0)
        self.assertFailsOn(result, ["R_X86_64_32S ext+0x0: 32-bit absolute",
                                    "R_X86_64_32 ext+0x0: 32-bit absolute"])
        self.assertEqual(len([d for d in result.details if "32-bit absolute" in d]), 2)
        self.assertIn("R_X86_64_PC32x1", result.details[-2])

    def test_got_relocations_need_an_empty_got(self):
        relaxable = audit.Elf(self.asm("gotx", "    mov ext@GOTPCREL(%rip), %rax\n"))
        self.assertEqual(audit.check_relocations([relaxable], got_size=0).status, "PASS")
        self.assertFailsOn(audit.check_relocations([relaxable], got_size=8),
                           ["R_X86_64_REX_GOTPCRELX ext"])
        plain = audit.Elf(self.asm("got", "    mov ext@GOTPCREL(%rip), %rax\n",
                                   "-mrelax-relocations=no"))
        self.assertFailsOn(audit.check_relocations([plain], got_size=0),
                           ["R_X86_64_GOTPCREL ext-0x4: not valid in Xen's static link"])

    def test_undefined_symbol_missing_from_image_is_rejected(self):
        obj = self.asm("undef", function("u", "    call missing_in_xen\n"
                                              "    call local_only\n"
                                              "    call hidden_fn\n"
                                              "    jmp __x86_return_thunk\n"))
        # A static function elsewhere cannot satisfy the reference; a hidden
        # global (Xen's default visibility) can.
        other = self.asm("other", "local_only:\n    ret\n"
                                  "    .globl hidden_fn\n    .hidden hidden_fn\n"
                                  "hidden_fn:\n    ret\n")
        image = audit.Elf(self.link(other))
        result = audit.check_undefined([audit.Elf(obj)], image)
        self.assertFailsOn(result, ["missing_in_xen is not defined",
                                    "local_only is not defined"])
        self.assertEqual(len([d for d in result.details if "is not defined" in d]), 2)
        self.assertTrue(any(d.startswith("hidden_fn = ") for d in result.details))
        self.assertIn("__x86_return_thunk = 0xffff82d040200000", result.details)


class Placement(Toolchain):
    def local_helper(self, name, file):
        return self.asm(name, f"""
    .file "{file}"
    .section .text.{name},"ax",@progbits
    .type helper,@function
helper:
    endbr64
    jmp __x86_return_thunk
    .size helper,.-helper
""")

    def test_same_named_locals_are_told_apart_by_file(self):
        a, b = self.local_helper("a", "a.rs"), self.local_helper("b", "b.rs")
        image = audit.Elf(self.link(a, b))
        pl = audit.place_objects(image, [audit.Elf(b)])
        self.assertEqual(pl.problems, [])
        self.assertEqual(pl.find_symbol("helper").addr,
                         next(s.addr for s in pl.sections if s.name == ".text.b"))

    def test_ambiguous_locals_are_reported(self):
        a, b = self.local_helper("a", "same.rs"), self.local_helper("b", "same.rs")
        image = audit.Elf(self.link(a, b))
        result = audit.check_placement(audit.place_objects(image, [audit.Elf(a)]))
        self.assertFailsOn(result, [".text.a: code not found in image: helper: ambiguous"])

    def test_code_missing_from_image_is_rejected(self):
        obj = self.asm("clean", CLEAN)
        result = audit.check_placement(audit.place_objects(audit.Elf(self.link()),
                                                           [audit.Elf(obj)]))
        self.assertFailsOn(result, ["clean.o:.text.clean: code not found in image: "
                                    "clean: not found"])

    def test_wx_regions(self):
        obj = self.asm("wx", CLEAN + """
    .section .text.wx,"awx",@progbits
    .globl wx_data
wx_data:
    .quad 0
    .section .data.code,"ax",@progbits
    .globl code_in_data
    .type code_in_data,@function
code_in_data:
    endbr64
    .size code_in_data,.-code_in_data
""")
        image = audit.Elf(self.link(obj))
        text, data = (next(s for s in image.sections if s.name == n) for n in (".text", ".data"))
        regions = {audit.TEXT_REGION: (text.addr, text.addr + text.size),
                   "rwdata (RW)": (data.addr, data.addr + data.size)}
        pl = audit.place_objects(image, [audit.Elf(obj)])
        result = audit.check_wx(image, pl, regions)
        self.assertFailsOn(result, [".text.wx @", "writable data inside the RX text region",
                                    ".data.code @", "code outside the RX text region"])
        self.assertTrue(any(".text.clean @" in d and "in text (RX)" in d for d in result.details))


@unittest.skipUnless(os.path.isfile(XEN_SYMS),
                     f"C reference build not found: {XEN_SYMS} (set XEN_TREE)")
class CReferenceBuild(unittest.TestCase):
    NULL_O = os.path.join(XEN, "common", "sched", "null.o")

    def run_cli(self, *extra, config=os.path.join(XEN, ".config"), obj=NULL_O):
        return subprocess.run(
            [sys.executable, AUDIT, "--xen-syms", XEN_SYMS, "--config", config,
             "--object", obj, "--hook-table", "sched_null_def", *extra],
            capture_output=True, text=True)

    @classmethod
    def setUpClass(cls):
        p = cls.run_cli(cls, "--json")
        cls.rc, cls.stderr = p.returncode, p.stderr
        cls.report = json.loads(p.stdout) if p.stdout else None

    def test_c_null_scheduler_passes(self):
        self.assertEqual(self.rc, 0, self.stderr + json.dumps(self.report, indent=1))
        self.assertEqual(self.report["result"], "PASS")
        self.assertEqual({c["status"] for c in self.report["checks"]}, {"PASS"})
        self.assertEqual([c["id"] for c in self.report["checks"]], list("0123456789"))

    def test_every_function_of_null_o_is_audited(self):
        funcs = {s.name for s in audit.Elf(self.NULL_O).symbols if s.type == audit.STT_FUNC}
        self.assertEqual({f["name"] for f in self.report["functions"]}, funcs)
        self.assertGreater(self.report["inputs"]["instructions"], 1000)

    def test_hook_table_targets_are_reported(self):
        ibt = self.report["checks"][2]
        hooks = [d for d in ibt["details"] if "-> " in d]
        self.assertGreaterEqual(len(hooks), 19)
        self.assertTrue(any("<null_schedule>: endbr64" in d for d in hooks))

    def test_text_report(self):
        p = self.run_cli()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("RESULT: PASS", p.stdout)
        self.assertNotIn("[FAIL]", p.stdout)

    def test_config_decides_what_is_required(self):
        """null.o was built for IBT and return thunks; audited against a
        .config without them, checks 2 and 4 must catch the mismatch in their
        plain forms (null.c has no indirect call, so 3 holds either way)."""
        with tempfile.NamedTemporaryFile("w", suffix=".config") as cfg:
            with open(os.path.join(XEN, ".config")) as f:
                for line in f:
                    if line.split("=")[0] not in ("CONFIG_XEN_IBT", "CONFIG_INDIRECT_THUNK",
                                                  "CONFIG_RETURN_THUNK"):
                        cfg.write(line)
            cfg.flush()
            p = self.run_cli("--json", config=cfg.name)
        report = json.loads(p.stdout)
        checks = {c["id"]: c for c in report["checks"]}
        self.assertEqual(report["inputs"]["required"], [])
        self.assertEqual({i: c["status"] for i, c in checks.items()},
                         {**{i: "PASS" for i in "0135678"}, "2": "FAIL", "4": "FAIL",
                          "9": "PASS"})
        self.assertIn("(CONFIG_INDIRECT_THUNK=n)", checks["3"]["summary"])
        self.assertTrue(any("<null_schedule>: endbr64  (endbr64 without CONFIG_XEN_IBT)" in d
                            for d in checks["2"]["details"]))
        self.assertTrue(all("<__x86_return_thunk>" in d or d.startswith("no ret in")
                            for d in checks["4"]["details"]))
        self.assertEqual(p.returncode, 1)

    def test_foreign_object_fails(self):
        with tempfile.TemporaryDirectory() as tmp:
            src, obj = os.path.join(tmp, "x.s"), os.path.join(tmp, "x.o")
            with open(src, "w") as f:
                f.write(CLEAN)
            sh("as", "--64", "-o", obj, src)
            p = self.run_cli("--json", obj=obj)
        self.assertEqual(p.returncode, 1)
        checks = {c["id"]: c for c in json.loads(p.stdout)["checks"]}
        self.assertEqual(checks["0"]["status"], "FAIL")
        self.assertEqual(checks["2"]["status"], "FAIL")  # hook table not in x.o

    def test_real_linker_script(self):
        with open(os.path.join(XEN, "arch", "x86", "xen.lds")) as f:
            rules = audit.parse_lds(f.read())
        expect = {".text.null_init": ".text", ".text.unlikely.x": ".text",
                  ".rodata.str1.1": ".rodata", ".data.rel.ro.local.x": ".rodata",
                  ".data.schedulers": ".data.read_mostly", ".data.x": ".data",
                  ".bss.x": ".bss", ".altinstructions": ".init.data",
                  ".altinstr_replacement": ".init.text", ".eh_frame": "/DISCARD/",
                  ".note.gnu.property": ".note", ".debug_info": ".debug_info",
                  ".comment": ".comment", ".weird": None, ".gcc_except_table": None}
        self.assertEqual({n: audit.output_section_for(n, rules) for n in expect}, expect)


if __name__ == "__main__":
    unittest.main()
