"""Which null scheduler did the link take? Checked on the built trees.

RUST_TREE (a build with CONFIG_SCHED_NULL_RUST=y): xen-syms holds the Rust
hooks, its `sched_null_def` table lies inside null-rust.o's placement, no
object of null.c was built or linked, and each hook slot of the table
points at the Rust function of that name.
C_TREE (CONFIG_SCHED_NULL_C=y): the reverse.

Run: RUST_TREE=... C_TREE=... python3 -m unittest tests/audit/test_link.py
"""

import glob
import os
import re
import subprocess
import unittest

from tests.audit import audit

RUST_HOOKS = ["null_rs_init", "null_rs_unit_wake", "null_rs_unit_sleep",
              "null_rs_schedule", "null_rs_res_pick", "null_rs_dump"]
# Static functions of null.c: present in xen-syms' symbol table if linked.
C_HOOKS = ["null_init", "null_unit_wake", "null_unit_sleep", "null_schedule",
           "null_res_pick", "null_dump"]


def symbols(path):
    out = subprocess.run(["nm", path], check=True, capture_output=True,
                         text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms.setdefault(parts[2], []).append((int(parts[0], 16), parts[1]))
    return syms


def gcc_layout(xen):
    """The constants Xen's compiler computed for this tree (build.rs's
    layout probe), e.g. OFFSET_scheduler__wake."""
    # Cargo's build directory layout changes between releases
    # (build/PKG-HASH/out, build/PKG/HASH/out): search it.
    files = glob.glob(os.path.join(
        xen, "common/sched/.null-rust-target/**/out/layout.rs"), recursive=True)
    if not files:
        raise AssertionError("no layout.rs from build.rs in the Rust build")
    with open(max(files, key=os.path.getmtime)) as f:
        text = f.read()
    return {m[1]: int(m[2]) for m in
            re.finditer(r"pub const (\w+): i128 = (-?\d+);", text)}


def tree(var):
    t = os.environ.get(var)
    if not t or not os.path.exists(os.path.join(t, "xen", "xen-syms")):
        raise unittest.SkipTest(f"{var} does not name a built Xen tree")
    return os.path.join(t, "xen")


class RustLink(unittest.TestCase):
    def test_rust_hooks_linked_and_null_o_not(self):
        xen = tree("RUST_TREE")
        syms = symbols(os.path.join(xen, "xen-syms"))
        for h in RUST_HOOKS:
            self.assertIn(h, syms, f"{h} missing from xen-syms")
        for h in C_HOOKS:
            self.assertNotIn(h, syms, f"null.c's {h} was linked")
        self.assertFalse(os.path.exists(os.path.join(xen, "common/sched/null.o")),
                         "null.o was built")
        obj = os.path.join(xen, "common/sched/null-rust.o")
        self.assertIn("null_rs_schedule", symbols(obj))
        # The registered table is the one defined by the Rust object.
        self.assertIn("sched_null_def", symbols(obj))
        members = subprocess.run(["nm", os.path.join(xen, "common/sched/built_in.o")],
                                 check=True, capture_output=True, text=True).stdout
        self.assertIn("null_rs_init", members)

    def test_table_slots_point_at_rust_hooks(self):
        xen = tree("RUST_TREE")
        elf = audit.Elf(os.path.join(xen, "xen-syms"))
        syms = symbols(os.path.join(xen, "xen-syms"))
        (table, _), = syms["sched_null_def"]
        layout = gcc_layout(xen)
        expect = {"init": "null_rs_init", "wake": "null_rs_unit_wake",
                  "sleep": "null_rs_unit_sleep", "do_schedule": "null_rs_schedule",
                  "pick_resource": "null_rs_res_pick", "dump_settings": "null_rs_dump"}
        for member, name in expect.items():
            off = layout[f"OFFSET_scheduler__{member}"]
            ptr = int.from_bytes(elf.read(table + off, 8), "little")
            self.assertEqual(ptr, syms[name][0][0],
                             f"{member} (+{off:#x}) is {ptr:#x}, not {name}")


    def test_panic_ends_in_xen_panic_without_unwinding(self):
        xen = tree("RUST_TREE")
        obj = os.path.join(xen, "common/sched/null-rust.o")
        undefined = subprocess.run(["nm", "-u", obj], check=True,
                                   capture_output=True, text=True).stdout.split()
        self.assertIn("panic", undefined, "the panic handler does not call Xen's panic()")
        for sym in ("_Unwind_Resume", "rust_eh_personality", "__rust_start_panic"):
            self.assertNotIn(sym, undefined, f"unwinding machinery referenced: {sym}")
        with open(os.path.join(xen, "xen-syms"), "rb") as f:
            image = f.read()
        # The handler's format: message, then file and line.
        self.assertIn(b"Rust null scheduler: '%.*s' at %.*s:%u\n", image)

    def test_no_formatting_machinery(self):
        # Panics carry literal messages only (rust/xen/panic.rs), and the
        # code avoids `expect`, `RefCell::borrow` and unchecked indexing,
        # whose panics would link core::fmt (2.4 KB, and 11 indirect calls
        # through vtables) into the hypervisor.
        obj = os.path.join(tree("RUST_TREE"), "common/sched/null-rust.o")
        out = subprocess.run(["nm", "-C", "--defined-only", obj], check=True,
                             capture_output=True, text=True).stdout
        fmt = [l.split(None, 2)[-1] for l in out.splitlines() if "core::fmt" in l]
        self.assertEqual(fmt, [], "core::fmt linked into the Rust object")


class CLink(unittest.TestCase):
    def test_c_hooks_linked_and_rust_not(self):
        xen = tree("C_TREE")
        syms = symbols(os.path.join(xen, "xen-syms"))
        for h in C_HOOKS:
            self.assertIn(h, syms, f"{h} missing from the C build")
        for h in RUST_HOOKS:
            self.assertNotIn(h, syms, f"{h} leaked into the C build")
        self.assertFalse(os.path.exists(os.path.join(xen, "common/sched/null-rust.o")))


if __name__ == "__main__":
    unittest.main()
