"""The arm64 audit's own tests: each check passes on code built as Xen
builds its C, and fails on a purpose-built object that breaks its rule.

    python3 -m unittest discover -s tests/audit -p 'test_audit_arm64.py'

Bad objects are compiled with aarch64-linux-gnu-gcc (flags chosen to
provoke exactly one defect) or assembled with aarch64-linux-gnu-as, and
linked with aarch64-linux-gnu-ld at Xen's arm64 address where a check needs
an image. A trimmed copy of arch/arm/xen.lds stands in for the real one.

XEN_TREE_ARM64_C, if set, is the `xen/` directory of an arm64 build of the
C reference: the audit must accept Xen's own null.o there in every check
but the Rust-only one (panic), and parse that tree's real xen.lds.
XEN_TREE_ARM64_RUST, if set, is the `xen/` directory of an arm64 Rust
build: the audit must accept the real null-rust.o there, and reject it
against the C tree's xen-syms (not linked there, and not the hooks Xen
calls).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit  # noqa: E402
import audit_arm64  # noqa: E402

AUDIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audit_arm64.py")
CC, AS, LD = "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-as", "aarch64-linux-gnu-ld"
# The code-generation flags Xen 4.17 compiles arm64 C with (see a build
# tree's common/sched/.null.o.cmd).
XEN_FLAGS = ["-O2", "-mcpu=generic", "-mgeneral-regs-only", "-mno-outline-atomics",
             "-fno-pie", "-fno-pic", "-fno-stack-protector", "-fno-exceptions",
             "-fno-asynchronous-unwind-tables", "-fno-builtin", "-fno-common"]
XEN_BASE = 0x200000
C_TREE = os.environ.get("XEN_TREE_ARM64_C")
RUST_TREE = os.environ.get("XEN_TREE_ARM64_RUST")

# The parts of Xen 4.17's arch/arm/xen.lds that matter here (no
# CONFIG_CC_SPLIT_SECTIONS: no .text.* pattern), in its order.
MINI_LDS = """
SECTIONS
{
  . = 0x00200000;
  .text : { _stext = .; *(.text.cold) *(.text.unlikely .text.*_unlikely .text.unlikely.*)
            *(.text) *(.fixup) _etext = .; } :text = 0x9090
  .rodata : { *(.bug_frames.0) *(.rodata) *(.rodata.*) *(.data.rel.ro) *(.data.rel.ro.*) } :text
  .data : { *(.data.page_aligned) *(.data.schedulers) *(.data .data.*) CONSTRUCTORS } :text
  .init.text : { *(.init.text) } :text
  .init.data : { *(.init.rodata) *(.init.setup) *(.ctors) *(.init_array) *(SORT(.init_array.*)) } :text
  .bss : { *(.bss.percpu) *(.bss .bss.*) } :text
  .debug_info 0 : { *(.debug_info) } .debug_frame 0 : { *(.debug_frame) }
  /DISCARD/ : { *(.discard) *(.eh_frame) *(.dtors) *(.fini_array) *(.fini_array.*) }
  .comment 0 : { *(.comment) *(.comment.*) } .symtab 0 : { *(.symtab) }
}
"""

# What Xen provides that the test objects call.
STUBS = """
    .text
    .globl panic, xen_fn
    .type panic,%function
panic:
    ret
    .size panic,.-panic
    .type xen_fn,%function
xen_fn:
    ret
    .size xen_fn,.-xen_fn
"""

# Code every instruction check must accept, with the traps of a naive
# register match: a branch to offset 0xd0 ("d0 <...>"), system registers
# and operations, prefetch, load/store-exclusive atomics.
CLEAN = """
    .section .text,"ax",%progbits
    .globl clean
    .type clean,%function
clean:
    stp x29, x30, [sp, #-16]!
    mov x29, sp
    mrs x1, tpidr_el2
    dc civac, x0
    prfm pldl1keep, [x0]
1:  ldaxr w1, [x0]
    add w1, w1, #1
    stlxr w2, w1, [x0]
    cbnz w2, 1b
    bl panic
    b.ne 2f
    .space 0xd0 - (. - clean), 0
2:  ldp x29, x30, [sp], #16
    ret
    .size clean,.-clean
"""

ATOMIC_C = """
int counter;
int bump(void) { return __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST); }
int swap(int *p, int old, int new)
{ return __sync_val_compare_and_swap(p, old, new); }
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
        missing = [t for t in (CC, AS, LD, audit_arm64.OBJDUMP) if not shutil.which(t)]
        if missing:
            raise unittest.SkipTest(f"missing tools: {', '.join(missing)}")

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="audit-arm64-test-")
        self.addCleanup(shutil.rmtree, self.tmp)
        self.rules = audit.parse_lds(MINI_LDS)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def cc(self, name, source, flags=XEN_FLAGS):
        src, obj = self.path(name + ".c"), self.path(name + ".o")
        Path(src).write_text(source)
        sh(CC, "-c", *flags, "-o", obj, src)
        return obj

    def asm(self, name, source, *flags):
        src, obj = self.path(name + ".s"), self.path(name + ".o")
        Path(src).write_text(source)
        sh(AS, *flags, "-o", obj, src)
        return obj

    def link(self, *objs, name="xen-syms"):
        image = self.path(name)
        sh(LD, "-o", image, f"-Ttext={XEN_BASE:#x}", "-e", "0", "--no-warn-rwx-segments",
           self.asm("stubs", STUBS), *objs)
        return image

    def image_code(self, *objs):
        """(image Elf, object Elfs, placement, our instructions in the image)."""
        image_path = self.link(*objs)
        image, elfs = audit.Elf(image_path), [audit.Elf(o) for o in objs]
        pl = audit.place_objects(image, elfs)
        self.assertEqual(pl.problems, [])
        return image, elfs, pl, audit_arm64.disassemble_image(image_path, pl.code_ranges(),
                                                              pl.symbolizer())

    def assertPasses(self, result):
        self.assertEqual(result.status, "PASS", "\n".join(result.details))

    def assertFailsOn(self, result, bad):
        """FAIL, and every `bad` text reported."""
        text = "\n".join(result.details)
        self.assertEqual(result.status, "FAIL", text)
        for b in bad:
            self.assertIn(b, text)


class FpSimd(Toolchain):
    def fp(self, obj):
        return audit_arm64.check_fp(audit_arm64.disassemble_object(obj))

    def test_xen_flags_and_clean_code_pass(self):
        o = self.cc("plain", "extern int g; extern void panic(const char *);\n"
                    "struct s { long a[8]; };\n"
                    "void cp(struct s *d, const struct s *s) { *d = *s; }\n"
                    "int get(int x) { if (!x) panic(\"x\"); return g + x; }\n")
        self.assertPasses(self.fp(o))
        insns = audit_arm64.disassemble_object(self.asm("clean", CLEAN))
        self.assertEqual(len(insns), 13)
        self.assertTrue(any(i.operands.startswith("d0 <") for i in insns),
                        "the branch-target trap is not in the disassembly")
        self.assertPasses(audit_arm64.check_fp(insns))

    def test_fp_arithmetic_fails(self):
        o = self.cc("fp", "double mul(double a, double b) { return a * b; }\n",
                    ["-O2", "-fno-pie"])
        self.assertFailsOn(self.fp(o), ["<mul>: fmul", "d0", "(FP/SIMD/SVE register)"])

    def test_simd_copy_fails(self):
        # GCC copies a struct through q registers without -mgeneral-regs-only.
        o = self.cc("simd", "struct s { long a[8]; };\n"
                    "void cp(struct s *d, const struct s *s) { *d = *s; }\n",
                    ["-O2", "-fno-pie"])
        self.assertFailsOn(self.fp(o), ["<cp", "q0"])

    def test_fmov_and_fp_control_fail(self):
        o = self.asm("fmov", """
    .text
    .globl f
    .type f,%function
f:
    fmov d0, x1
    fmov w2, s3
    mrs x0, fpcr
    msr fpsr, x0
    ldr b4, [x0]
    str h5, [x0]
    ret
    .size f,.-f
""")
        result = self.fp(o)
        self.assertFailsOn(result, ["fmov\td0, x1", "fmov\tw2, s3", "mrs\tx0, fpcr",
                                    "msr\tfpsr, x0", "ldr\tb4", "str\th5",
                                    "(FP/SVE control register)"])
        self.assertEqual(len([d for d in result.details if "<f" in d]), 6)

    def test_sve_fails(self):
        o = self.asm("sve", """
    .arch armv8.2-a+sve
    .text
    .globl f
    .type f,%function
f:
    rdvl x1, #1
    addvl sp, sp, #-1
    cntd x2
    ptrue p0.d
    ld1d {z0.d}, p0/z, [x0]
    ret
    .size f,.-f
""")
        result = self.fp(o)
        self.assertFailsOn(result, ["rdvl", "addvl", "cntd", "ptrue\tp0.d", "ld1d\t{z0.d}",
                                    "(SVE/SME instruction)"])
        self.assertEqual(len([d for d in result.details if "<f" in d]), 5)

    def test_fp_in_the_image_fails(self):
        # The real audit disassembles our code where it lies in xen-syms.
        o = self.cc("fp", "double mul(double a, double b) { return a * b; }\n",
                    ["-O2", "-fno-pie"])
        _, _, _, insns = self.image_code(o)
        self.assertFailsOn(audit_arm64.check_fp(insns), ["<mul>: fmul"])


class Relocations(Toolchain):
    def test_xen_flags_pass(self):
        o = self.cc("plain", "extern int g; extern void panic(const char *);\n"
                    "static void (*const hook)(const char *) = panic;\n"
                    "int get(int x) { if (!x) hook(\"x\"); return g + x; }\n")
        result = audit_arm64.check_relocations([audit.Elf(o)])
        self.assertPasses(result)
        self.assertIn("CALL26", result.summary + "JUMP26")

    def test_got_reference_fails(self):
        o = self.cc("got", "extern int g; int get(void) { return g; }\n",
                    ["-O2", "-mgeneral-regs-only", "-fPIC"])
        self.assertFailsOn(audit_arm64.check_relocations([audit.Elf(o)]),
                           ["R_AARCH64_ADR_GOT_PAGE g+0x0: through a GOT",
                            "R_AARCH64_LD64_GOT_LO12_NC g+0x0: through a GOT"])

    def test_large_model_absolute_fails(self):
        # -mcmodel=large loads addresses from a literal pool in .text
        # (R_AARCH64_ABS64 there) or builds them with MOVW_UABS.
        o = self.cc("large", "extern int g; int get(void) { return g; }\n",
                    ["-O2", "-mgeneral-regs-only", "-fno-pie", "-mcmodel=large"])
        result = audit_arm64.check_relocations([audit.Elf(o)])
        self.assertFailsOn(result, ["absolute address in code (large code model)"])

    def test_tls_relocations_fail(self):
        o = self.cc("tls", "__thread int t; int get(void) { return t; }\n")
        self.assertFailsOn(audit_arm64.check_relocations([audit.Elf(o)]),
                           ["R_AARCH64_TLSLE_", "TLS, which Xen does not have"])


class Atomics(Toolchain):
    def atomics(self, *objs, insns=None):
        if insns is None:
            insns = [i for o in objs for i in audit_arm64.disassemble_object(o)]
        return audit_arm64.check_atomics([audit.Elf(o) for o in objs], insns)

    def test_xen_flags_pass(self):
        result = self.atomics(self.cc("llsc", ATOMIC_C))
        self.assertPasses(result)
        self.assertRegex(result.summary, r"[1-9]\d* load/store-exclusive")

    def test_outline_atomics_fail(self):
        flags = [f for f in XEN_FLAGS if f != "-mno-outline-atomics"] + ["-moutline-atomics"]
        o = self.cc("outline", ATOMIC_C, flags)
        self.assertFailsOn(self.atomics(o), [
            "outline.o: __aarch64_ldadd4_acq_rel undefined (Xen has no outline-atomic helpers)",
            "outline.o: __aarch64_cas4_sync undefined",
            "R_AARCH64_CALL26 __aarch64_ldadd4_acq_rel"])

    def test_outline_atomic_call_in_the_image_fails(self):
        # Linked against a copy of the helper (as with libgcc): the call
        # shows in xen-syms, and the object still has the reference.
        flags = [f for f in XEN_FLAGS if f != "-mno-outline-atomics"] + ["-moutline-atomics"]
        o = self.cc("outline", "int c; int bump(void) "
                    "{ return __atomic_fetch_add(&c, 1, __ATOMIC_RELAXED); }\n", flags)
        helper = self.asm("helper", """
    .text
    .globl __aarch64_ldadd4_relax
    .type __aarch64_ldadd4_relax,%function
__aarch64_ldadd4_relax:
    ret
    .size __aarch64_ldadd4_relax,.-__aarch64_ldadd4_relax
""")
        _, _, _, insns = self.image_code(o, helper)
        result = audit_arm64.check_atomics([audit.Elf(o)], insns)
        self.assertFailsOn(result, ["<bump", "<__aarch64_ldadd4_relax>  (outline-atomic helper)"])
        # A copy of the helpers inside our objects is rejected too.
        self.assertFailsOn(self.atomics(helper), [
            "helper.o: __aarch64_ldadd4_relax defined: a copy of the outline-atomic helpers"])

    def test_lse_instructions_fail(self):
        o = self.cc("lse", ATOMIC_C, XEN_FLAGS + ["-march=armv8.1-a"])
        result = self.atomics(o)
        self.assertFailsOn(result, ["(LSE, ARMv8.1)", "ldaddal", "casal"])
        self.assertNotIn("__aarch64_", "\n".join(result.details))


class Sections(Toolchain):
    def sections(self, *objs, rules=None, image=None):
        return audit_arm64.check_sections([audit.Elf(o) for o in objs],
                                          rules or self.rules, image)

    def test_xen_flags_pass(self):
        o = self.cc("plain", "int g; const int c = 1; int f(int x) { return x + g + c; }\n",
                    XEN_FLAGS + ["-g"])
        result = self.sections(o, self.asm("clean", CLEAN))
        self.assertPasses(result)
        # GCC's aarch64 default (-funwind-tables) survives Xen's flags.
        self.assertIn("plain.o:.eh_frame: unwind tables of C files only", "\n".join(result.details))
        self.assertIn("plain.o:.note.GNU-stack: linker marker, not placed", result.details)
        self.assertIn("plain.o:.debug_info -> .debug_info", result.details)

    def test_unwind_tables_of_non_c_code_fail(self):
        # What rustc emits without -C force-unwind-tables=no: a .rs file's
        # functions described in .eh_frame.
        o = self.asm("unwind", """
    .file "lib.rs"
    .text
    .globl f
    .type f,%function
f:
    .cfi_startproc
    stp x29, x30, [sp, #-16]!
    .cfi_def_cfa_offset 16
    ldp x29, x30, [sp], #16
    ret
    .cfi_endproc
    .size f,.-f
""")
        self.assertFailsOn(self.sections(o), [
            "unwind.o:.eh_frame: forbidden section (unwind tables): entry -> .text+0x0, "
            "code of lib.rs (not a C file"])

    def test_unwind_tables_of_c_code_fail_where_not_discarded(self):
        o = self.cc("unwind", "int f(int x) { return x + 1; }\n",
                    XEN_FLAGS + ["-fasynchronous-unwind-tables"])
        keep = audit.parse_lds(MINI_LDS.replace("*(.eh_frame)", "")
                               .replace("*(.rodata)", "*(.rodata) *(.eh_frame)"))
        self.assertFailsOn(self.sections(o, rules=keep),
                           ["unwind.o:.eh_frame: forbidden section (unwind tables): "
                            "the linker script does not discard it"])
        image = audit.Elf(self.link(o))
        self.assertTrue(image.section_size(".eh_frame"))
        self.assertFailsOn(self.sections(o, image=image),
                           ["unwind.o:.eh_frame: forbidden section (unwind tables): "
                            "xen-syms has a .eh_frame section"])

    def test_exception_tables_fail(self):
        # A cleanup that must run when g() throws: a landing pad, its LSDA
        # in .gcc_except_table and a personality routine named by .eh_frame.
        o = self.cc("except", "extern void g(void), release(int *);\n"
                    "static void done(int *p) { release(p); }\n"
                    "int f(void) { int x __attribute__((cleanup(done))) = 1; g(); return x; }\n",
                    XEN_FLAGS + ["-fexceptions"])
        self.assertFailsOn(self.sections(o), [
            "except.o:.gcc_except_table: forbidden section (unwind tables)",
            "except.o:.eh_frame: forbidden section (unwind tables): entry -> "
            "DW.ref.__gcc_personality_v0+0x0 (not code of this object"])
        arm = self.asm("exidx", ".section .ARM.exidx,\"a\"\n    .word 0\n"
                                ".section .ARM.extab.f,\"a\"\n    .word 0\n")
        self.assertFailsOn(self.sections(arm), [
            "exidx.o:.ARM.exidx: forbidden section (unwind tables)",
            "exidx.o:.ARM.extab.f: forbidden section (unwind tables)"])

    def test_constructors_fail(self):
        o = self.cc("ctor", "int x; __attribute__((constructor)) void init(void) { x = 1; }\n"
                    "__attribute__((destructor)) void fini(void) { x = 0; }\n")
        self.assertFailsOn(self.sections(o), [
            "ctor.o:.init_array: forbidden section (static constructors)",
            "ctor.o:.fini_array: forbidden section (static destructors)"])
        ctors = self.asm("ctors", ".section .ctors,\"aw\"\n    .xword 0\n")
        self.assertFailsOn(self.sections(ctors),
                           ["ctors.o:.ctors: forbidden section (static constructors)"])

    def test_tls_fails(self):
        o = self.cc("tls", "__thread int t; __thread int u = 1;\n"
                    "int get(void) { return t + u; }\n")
        self.assertFailsOn(self.sections(o), [
            "tls.o:.tbss: forbidden section (TLS)", "tls.o:.tbss: TLS section",
            "tls.o:.tdata: forbidden section (TLS)", "tls.o:.tdata: TLS section"])

    def test_wx_and_orphans_fail(self):
        o = self.asm("sections", CLEAN + """
    .section .text.wx,"awx",%progbits
    nop
    .section .weird,"a"
    .byte 1
    .section .note.GNU-stack,"x",%progbits
""")
        result = self.sections(o)
        self.assertFailsOn(result, [
            "sections.o:.text.wx: writable and executable",
            "sections.o:.weird: orphan, no input pattern of xen.lds matches it",
            "sections.o:.note.GNU-stack: asks for an executable stack"])
        self.assertIn("sections.o:.text -> .text", result.details)

    def test_function_sections_are_orphans(self):
        # Xen 4.17's arm64 xen.lds has no .text.* pattern without
        # CONFIG_CC_SPLIT_SECTIONS: per-function sections would be placed
        # by ld's orphan rules, outside _stext.._etext.
        o = self.cc("split", "int f(int x) { return x + 1; }\n",
                    XEN_FLAGS + ["-ffunction-sections"])
        self.assertFailsOn(self.sections(o), ["split.o:.text.f: orphan"])


class Linkage(Toolchain):
    # A scheduler-like table: a name, then code pointers; listed in
    # .data.schedulers as Xen's REGISTER_SCHEDULER does.
    TABLE = """
    .text
    .globl hook_a, hook_b
    .type hook_a,%function
hook_a:
    b panic
    .size hook_a,.-hook_a
    .type hook_b,%function
hook_b:
    nop
    ret
    .size hook_b,.-hook_b
    .section .rodata.str,"aMS",%progbits,1
name:
    .asciz "test"
    .section .rodata,"a"
    .globl sched_def
    .type sched_def,%object
    .balign 8
sched_def:
    .xword name
    .xword 0
    .xword HOOK_A
    .xword HOOK_B
    .size sched_def,.-sched_def
"""
    ENTRY = """
    .section .data.schedulers,"aw"
    .balign 8
    .type entry,%object
entry:
    .xword ENTRY
    .size entry,.-entry
"""

    def table(self, name, hook_a="hook_a", hook_b="hook_b", entry="sched_def"):
        src = self.TABLE.replace("HOOK_A", hook_a).replace("HOOK_B", hook_b)
        if entry:
            src += self.ENTRY.replace("ENTRY", entry)
        return self.asm(name, src)

    def hooks(self, obj, table="sched_def", require_panic=True):
        image, elfs, pl, _ = self.image_code(obj)
        return audit_arm64.check_hook_table(image, elfs, pl, table, require_panic)

    def test_our_table_passes(self):
        result = self.hooks(self.table("good"))
        self.assertPasses(result)
        self.assertTrue(any("sched_def+0x10 -> " in d and "<hook_a>: our function" in d
                            for d in result.details), result.details)
        self.assertTrue(any(".data.schedulers @ " in d and "-> sched_def" in d
                            for d in result.details), result.details)

    def test_hook_outside_our_objects_fails(self):
        self.assertFailsOn(self.hooks(self.table("foreign", hook_b="xen_fn")),
                           ["sched_def+0x18 -> ", "<xen_fn>: not the entry of a function"])

    def test_hook_into_the_middle_of_a_function_fails(self):
        self.assertFailsOn(self.hooks(self.table("middle", hook_b="hook_b+4")),
                           ["<hook_b+0x4>: not the entry of a function"])

    def test_table_not_listed_in_data_schedulers_fails(self):
        self.assertFailsOn(self.hooks(self.table("unlisted", entry=None)),
                           ["no .data.schedulers entry located"])
        self.assertFailsOn(self.hooks(self.table("elsewhere", entry="name")),
                           [".data.schedulers @ ", "not sched_def"])

    def test_missing_or_empty_table_fails(self):
        obj = self.table("good")
        self.assertFailsOn(self.hooks(obj, table="nope"),
                           ["hook table nope is not defined by the audited objects"])
        empty = self.table("empty", hook_a="0", hook_b="0")
        self.assertFailsOn(self.hooks(empty), ["hook table sched_def holds no pointer into code"])

    def test_no_panic_call_fails(self):
        src = self.TABLE.replace("b panic", "ret").replace("HOOK_A", "hook_a") \
            .replace("HOOK_B", "hook_b") + self.ENTRY.replace("ENTRY", "sched_def")
        obj = self.asm("nopanic", src)
        self.assertPasses(self.hooks(obj, require_panic=False))
        self.assertFailsOn(self.hooks(obj), ["the objects do not call Xen's panic()"])

    def test_undefined_symbols_must_be_global_in_xen_syms(self):
        o = self.cc("undef", "extern void missing_in_xen(void), local_only(void), xen_fn(void);\n"
                    "void f(void) { missing_in_xen(); local_only(); xen_fn(); }\n")
        other = self.asm("other", "    .text\nlocal_only:\n    ret\n")
        result = audit_arm64.check_undefined([audit.Elf(o)], audit.Elf(self.link(other)))
        self.assertFailsOn(result, ["undef.o: missing_in_xen is not defined by xen-syms",
                                    "undef.o: local_only is not defined by xen-syms"])
        self.assertTrue(any(d.startswith("xen_fn = ") for d in result.details))
        self.assertEqual(result.id, "5")

    def test_code_missing_from_image_fails(self):
        obj = self.asm("clean", CLEAN)
        pl = audit.place_objects(audit.Elf(self.link()), [audit.Elf(obj)])
        self.assertFailsOn(audit_arm64.check_placement(pl),
                           ["clean.o:.text: code not found in image: clean: not found"])

    def test_wx_regions(self):
        obj = self.asm("wx", CLEAN + """
    .section .text.wx,"awx",%progbits
    .globl wx_data
wx_data:
    .xword 0
    .section .data.code,"ax",%progbits
    .globl code_in_data
    .type code_in_data,%function
code_in_data:
    ret
    .size code_in_data,.-code_in_data
""")
        image = audit.Elf(self.link(obj))
        text = next(s for s in image.sections if s.name == ".text")
        none = (0, 0)
        regions = {"text (RX)": (text.addr, text.addr + text.size),
                   "init text (RX, freed after boot)": none,
                   "text+rodata (not writable)": (text.addr, text.addr + text.size)}
        pl = audit.place_objects(image, [audit.Elf(obj)])
        result = audit_arm64.check_wx(pl, regions)
        self.assertFailsOn(result, [
            "wx.o:.text.wx @ ", "writable data inside text/rodata",
            "wx.o:.data.code @ ", "code outside Xen's text regions"])
        self.assertTrue(any(d.startswith("wx.o:.text @ ") for d in result.details))


@unittest.skipUnless(C_TREE, "XEN_TREE_ARM64_C is not set")
class CReference(unittest.TestCase):
    """Xen's own null.c, built by Xen for arm64: every rule holds but the
    Rust one (panics through panic())."""

    def test_c_null_o_passes_all_but_panic(self):
        checks = audit_arm64.run_audit(os.path.join(C_TREE, "xen-syms"),
                                       [os.path.join(C_TREE, "common/sched/null.o")],
                                       "sched_null_def")
        status = {c.id: c.status for c in checks}
        self.assertEqual(status, {**{i: "PASS" for i in "0123457"}, "6": "FAIL"},
                         "\n".join(f"{c.id} {c.summary}: {c.details}" for c in checks))
        hooks = checks[6]
        self.assertEqual([d for d in hooks.details if "not the entry" in d], [])
        self.assertIn("the objects do not call Xen's panic(): Rust panics do not end there",
                      hooks.details)
        self.assertGreaterEqual(len([d for d in hooks.details if d.endswith("our function")]), 19)
        self.assertGreater(int(checks[1].summary.split()[2]), 1000)  # instructions seen

    def test_real_linker_script(self):
        with open(os.path.join(C_TREE, "arch", "arm", "xen.lds")) as f:
            rules = audit.parse_lds(f.read())
        expect = {".text": ".text", ".text.unlikely.x": ".text", ".text.f": None,
                  ".rodata.str1.8": ".rodata", ".bug_frames.3": ".rodata",
                  ".data.schedulers": ".data", ".data.x": ".data", ".bss.x": ".bss",
                  ".init.setup": ".init.data", ".init.rodata": ".init.data",
                  ".init_array": ".init.data", ".eh_frame": "/DISCARD/",
                  ".fini_array": "/DISCARD/", ".debug_frame": ".debug_frame",
                  ".comment": ".comment", ".note.GNU-stack": None, ".tbss": None,
                  ".gcc_except_table": None, ".weird": None}
        self.assertEqual({n: audit.output_section_for(n, rules) for n in expect}, expect)


@unittest.skipUnless(RUST_TREE, "XEN_TREE_ARM64_RUST is not set")
class RustBuild(unittest.TestCase):
    OBJ = os.path.join(RUST_TREE or "", "common/sched/null-rust.o")

    def cli(self, xen_syms, *extra):
        return subprocess.run([sys.executable, AUDIT, "--xen-syms", xen_syms,
                               "--object", self.OBJ, "--hook-table", "sched_null_def",
                               *extra], capture_output=True, text=True)

    def test_rust_object_passes(self):
        p = self.cli(os.path.join(RUST_TREE, "xen-syms"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("RESULT: PASS (0 of 8 checks failed)", p.stdout)
        self.assertNotIn("[FAIL]", p.stdout)

    def test_every_function_is_audited(self):
        checks = audit_arm64.run_audit(os.path.join(RUST_TREE, "xen-syms"), [self.OBJ],
                                       "sched_null_def")
        funcs = {s.name for s in audit.Elf(self.OBJ).symbols if s.type == audit.STT_FUNC}
        self.assertIn(f"{len(funcs)} functions", checks[0].summary)
        self.assertIn("null_rs_schedule", funcs)

    @unittest.skipUnless(C_TREE, "XEN_TREE_ARM64_C is not set")
    def test_rust_object_is_not_in_the_c_image(self):
        p = self.cli(os.path.join(C_TREE, "xen-syms"), "--lds",
                     os.path.join(RUST_TREE, "arch", "arm", "xen.lds"))
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("[FAIL] 0. locate our code in xen-syms", p.stdout)
        self.assertIn("[FAIL] 6. hook table and panic", p.stdout)


if __name__ == "__main__":
    unittest.main()
