//! Build script: bind to the *configured* Xen tree being built.
//!
//! When cargo builds for the hypervisor (`target_os = "none"`), Xen's
//! `common/sched/Makefile` (through `kbuild/null-rust.mk`) sets:
//! - `XEN_OBJTREE`: the configured `xen/` directory (holds `.config`);
//! - `XEN_SRCTREE`: its sources (the same directory for in-tree builds);
//! - `XEN_CC`: the C compiler Xen builds with;
//! - `XEN_CFLAGS`: the exact flags Xen compiles `common/sched/*.c` with.
//!
//! From these it
//! 1. turns `.config` into `cfg`s (`xen_debug`, `xen_perf_counters`, ...);
//! 2. runs bindgen over `rust/bindings/xen.h` with the tree's defines and
//!    include paths, so NR_CPUS, DEBUG and lock debugging shape the structs;
//! 3. compiles `rust/bindings/layout.c` with Xen's own compiler and flags to
//!    assembly and reads the sizes, offsets and constants GCC computed
//!    (like Linux's asm-offsets), for `static_assertions` against bindgen;
//! 4. compiles `rust/helpers/helpers.c` with `cc`, using Xen's flags only.
//!
//! For the host (unit tests), it does nothing.

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cfgs derived from `.config`: (cfg name, CONFIG_ option).
const CONFIG_CFGS: &[(&str, &str)] = &[
    ("xen_debug", "CONFIG_DEBUG"),
    ("xen_perf_counters", "CONFIG_PERF_COUNTERS"),
    ("xen_tracebuffer", "CONFIG_TRACEBUFFER"),
];

fn main() {
    for (cfg, _) in CONFIG_CFGS {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    println!("cargo::rustc-check-cfg=cfg(xen)");
    println!("cargo::rerun-if-env-changed=XEN_OBJTREE");
    println!("cargo::rerun-if-env-changed=XEN_SRCTREE");
    println!("cargo::rerun-if-env-changed=XEN_CFLAGS");
    println!("cargo::rerun-if-env-changed=XEN_CC");

    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    println!("cargo::rustc-cfg=xen");

    let objtree = PathBuf::from(need("XEN_OBJTREE"));
    let srctree = env::var_os("XEN_SRCTREE").map_or_else(|| objtree.clone(), PathBuf::from);
    let cc = env::var("XEN_CC").unwrap_or_else(|_| "gcc".into());
    let cflags = absolutize(&split_flags(&need("XEN_CFLAGS")), &objtree);
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    let config = objtree.join(".config");
    println!("cargo::rerun-if-changed={}", config.display());
    let config =
        fs::read_to_string(&config).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
    for (cfg, option) in CONFIG_CFGS {
        if config.lines().any(|l| l == format!("{option}=y")) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }

    for f in [
        "rust/bindings/xen.h",
        "rust/bindings/layout.c",
        "rust/helpers/helpers.c",
        "include/xen_null_rs.h",
    ] {
        println!("cargo::rerun-if-changed={f}");
    }
    let sched_dir = srctree.join("common/sched");

    // Clang parses Xen's headers for the architecture cargo builds for
    // (kbuild/arch/*.mk picks the Rust target from Xen's SRCARCH).
    let clang_target = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "x86_64-unknown-none-elf",
        Ok("aarch64") => "aarch64-unknown-none-elf",
        other => panic!("build.rs: no clang target for target_arch {other:?}"),
    };
    bindings(&cflags, &sched_dir, clang_target, &out);
    layout(&cc, &cflags, &sched_dir, &out);
    helpers(&cc, &cflags, &sched_dir);
}

fn need(var: &str) -> String {
    env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: build through Xen's make (common/sched/Makefile), not cargo alone"
        )
    })
}

/// Split a make-style flag string; Xen's flags contain no quoted spaces
/// except `'-D__OBJECT_LABEL__=...'`, whose quotes the shell already removed.
fn split_flags(s: &str) -> Vec<String> {
    s.split_whitespace()
        .map(|f| f.trim_matches('\'').to_string())
        .collect()
}

/// Xen compiles from inside `xen/` with relative paths (`-I./include`);
/// cargo runs us elsewhere, so anchor them at the object tree.
fn absolutize(flags: &[String], root: &Path) -> Vec<String> {
    let anchor = |p: &str| -> String {
        if Path::new(p).is_absolute() {
            p.to_string()
        } else {
            root.join(p).display().to_string()
        }
    };
    let mut out = Vec::new();
    let mut it = flags.iter();
    while let Some(f) = it.next() {
        if f == "-include" || f == "-I" || f == "-isystem" {
            out.push(f.clone());
            out.push(anchor(it.next().expect("flag argument")));
        } else if let Some(p) = f.strip_prefix("-Wa,-I") {
            out.push(format!("-Wa,-I{}", anchor(p)));
        } else if let Some(p) = f.strip_prefix("-I") {
            out.push(format!("-I{}", anchor(p)));
        } else if f.starts_with("-MMD") || f == "-MP" {
        } else if f == "-MF" || f == "-MQ" {
            it.next();
        } else if f.starts_with("-D__OBJECT_LABEL__=") {
            out.push("-D__OBJECT_LABEL__=common/sched/null-rust.o".into());
        } else {
            out.push(f.clone());
        }
    }
    // Xen's inline asm `.include`s "arch/x86/include/asm/asm-macros.h",
    // relative to the directory make runs in.
    out.push(format!("-Wa,-I{}", root.display()));
    out
}

/// The flags libclang needs to parse Xen's headers as GCC would: defines,
/// include paths and the language standard; GCC-only code-generation flags
/// are dropped.
fn clang_flags(cflags: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = cflags.iter();
    while let Some(f) = it.next() {
        if f == "-include" {
            out.push(f.clone());
            out.push(it.next().unwrap().clone());
        } else if ["-D", "-U", "-I", "-std="].iter().any(|p| f.starts_with(p))
            || f == "-nostdinc"
            || f == "-m64"
        {
            out.push(f.clone());
        }
    }
    out
}

fn bindings(cflags: &[String], sched_dir: &Path, clang_target: &str, out: &Path) {
    let b = bindgen::Builder::default()
        .header("rust/bindings/xen.h")
        .clang_args(clang_flags(cflags))
        .clang_arg(format!("-I{}", sched_dir.display()))
        .clang_arg(format!("--target={clang_target}"))
        .clang_arg("-Wno-unknown-attributes")
        .use_core()
        .ctypes_prefix("core::ffi")
        .layout_tests(true)
        .derive_default(false)
        .derive_debug(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        // The structs the scheduler reads or writes, the functions it calls.
        .allowlist_type(
            "scheduler|sched_unit|sched_resource|cpupool|domain|vcpu|spinlock_t|cpumask_t",
        )
        .allowlist_type("perfcounter")
        .allowlist_function(
            "printk|panic|_xzalloc|xfree|_spin_.*|cpu_raise_softirq|cpumask_raise_softirq",
        )
        .allowlist_function("__trace_var|get_random|get_s_time|rust_helper_.*|null_rs_.*")
        .allowlist_var(
            "tb_init_done|nr_cpu_ids|SCHEDULE_SOFTIRQ|XEN_SCHEDULER_NULL|system_state|SYS_STATE_.*",
        )
        .allowlist_var("rust_null_fail_alloc|per_cpu__sched_res|__per_cpu_offset|per_cpu__cpu_id")
        // Opaque where the scheduler never looks inside.
        .opaque_type("arch_.*|paging_.*|hvm_.*|evtchn.*|grant_table|.*_page_list.*")
        .opaque_type("timer|rcu_head|page_info|p2m_domain|vm_event_.*|xen_domctl.*|xen_sysctl.*")
        .allowlist_recursively(true);
    let out_file = out.join("bindings.rs");
    b.generate()
        .expect("bindgen over rust/bindings/xen.h")
        .write_to_file(&out_file)
        .unwrap();
}

/// Compile `layout.c` to assembly with Xen's compiler and flags and collect
/// its `.ascii "->NAME VALUE"` markers into `layout.rs` constants.
fn layout(cc: &str, cflags: &[String], sched_dir: &Path, out: &Path) {
    let asm = out.join("layout.s");
    let status = Command::new(cc)
        .args(cflags.iter().filter(|f| !f.starts_with("-Wa,")))
        .arg(format!("-I{}", sched_dir.display()))
        .args(["-S", "rust/bindings/layout.c", "-o"])
        .arg(&asm)
        .status()
        .expect("run Xen's C compiler");
    assert!(status.success(), "compiling rust/bindings/layout.c failed");
    let mut consts = BTreeMap::new();
    for line in fs::read_to_string(&asm).unwrap().lines() {
        // GCC emits: .ascii "->NAME 123"
        let Some(rest) = line.trim().strip_prefix(".ascii \"->") else {
            continue;
        };
        let rest = rest.trim_end_matches('"');
        let (name, value) = rest.split_once(' ').expect("marker NAME VALUE");
        let item = match value.strip_prefix('=') {
            // A string (DEFINE_STR): a C string constant.
            Some(v) => format!("pub const {name}: &core::ffi::CStr = c\"{v}\";\n"),
            None => {
                let v = value.trim_start_matches('$');
                let v: i128 = v.parse().unwrap_or_else(|_| panic!("{name}: {v}"));
                format!("pub const {name}: i128 = {v};\n")
            }
        };
        consts.insert(name.to_string(), item);
    }
    assert!(!consts.is_empty(), "no layout markers in {}", asm.display());
    let mut rs = String::from(
        "// Generated by build.rs from rust/bindings/layout.c, compiled by Xen's compiler.\n",
    );
    rs.extend(consts.into_values());
    fs::write(out.join("layout.rs"), rs).unwrap();
}

fn helpers(cc: &str, cflags: &[String], sched_dir: &Path) {
    let mut b = cc::Build::new();
    b.compiler(cc)
        .no_default_flags(true)
        .warnings(false)
        .extra_warnings(false)
        .cargo_warnings(true);
    for f in cflags {
        b.flag(f);
    }
    b.include(sched_dir)
        .include("include")
        .file("rust/helpers/helpers.c");
    b.compile("null_rs_helpers");
}
