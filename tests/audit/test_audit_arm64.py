"""The arm64 audit's own tests: each check passes on code built as Xen
builds its C, and fails on a purpose-built object that breaks its rule.

    python3 -m unittest discover -s tests/audit -p 'test_audit_arm64.py'

XEN_TREE_ARM64_C, if set, is an arm64 build of the C reference (its
`xen/` directory): check 3 must reject its null.o, which is not ours.
"""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_arm64  # noqa: E402

CC = "aarch64-linux-gnu-gcc"
# What Xen 4.17 arm64 compiles C with (arch/arm/arch.mk, Rules.mk).
XEN_FLAGS = ["-O2", "-mcpu=generic", "-mgeneral-regs-only",
             "-mno-outline-atomics", "-fno-pie", "-fno-pic"]


class Arm64Audit(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def obj(self, name, source, flags):
        src = Path(self.tmp.name) / f"{name}.c"
        out = src.with_suffix(".o")
        src.write_text(source)
        subprocess.run([CC, "-c", *flags, str(src), "-o", str(out)],
                       check=True)
        return str(out)

    def test_xen_flags_pass(self):
        o = self.obj("plain", "extern int g; extern void panic(const char *);\n"
                     "int get(int x) { if (!x) panic(\"x\"); return g + x; }\n",
                     XEN_FLAGS)
        self.assertEqual(audit_arm64.check_fp(o)[1], [])
        self.assertEqual(audit_arm64.check_relocs(o)[1], [])

    def test_fp_registers_fail(self):
        o = self.obj("fp", "double mul(double a, double b) { return a * b; }\n",
                     ["-O2", "-fno-pie"])
        n, bad = audit_arm64.check_fp(o)
        self.assertTrue(bad, "FP code passed check 1")

    def test_simd_copy_fails(self):
        # GCC vectorises a struct copy into q registers without
        # -mgeneral-regs-only.
        o = self.obj("simd", "struct s { long a[8]; };\n"
                     "void cp(struct s *d, const struct s *s) { *d = *s; }\n",
                     ["-O2", "-fno-pie"])
        self.assertTrue(audit_arm64.check_fp(o)[1], "SIMD copy passed")

    def test_got_reference_fails(self):
        o = self.obj("got", "extern int g; int get(void) { return g; }\n",
                     ["-O2", "-mgeneral-regs-only", "-fPIC"])
        bad = audit_arm64.check_relocs(o)[1]
        self.assertTrue(any("GOT" in b for b in bad), bad)

    def test_large_model_absolute_fails(self):
        # -mcmodel=large loads addresses from a literal pool in .text
        # (R_AARCH64_ABS64 there) or builds them with MOVW_UABS.
        o = self.obj("large", "extern int g; int get(void) { return g; }\n",
                     ["-O2", "-mgeneral-regs-only", "-fno-pie",
                      "-mcmodel=large"])
        bad = audit_arm64.check_relocs(o)[1]
        self.assertTrue(any("ABS64" in b or "MOVW" in b for b in bad), bad)

    @unittest.skipUnless(os.environ.get("XEN_TREE_ARM64_C"),
                         "XEN_TREE_ARM64_C is not set")
    def test_c_reference_is_not_ours(self):
        tree = Path(os.environ["XEN_TREE_ARM64_C"])
        bad = audit_arm64.check_linked(str(tree / "common/sched/null.o"),
                                       str(tree / "xen-syms"))
        self.assertIn("the object does not call Xen's panic()", bad)
        self.assertTrue(any("null_rs_schedule" in b for b in bad), bad)


if __name__ == "__main__":
    unittest.main()
