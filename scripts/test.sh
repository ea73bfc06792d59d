#!/usr/bin/env bash
# The project's test command (README): installs what it needs, then runs
# every test. On a fresh Debian 12 machine, as root.
#
#   host:   cargo fmt/clippy, unit and model tests of the policy core, the
#           intrusive list, the cbindgen header freshness; the audit tool's
#           own tests (each check must bite)
#   build:  Xen 4.17 patched, Rust null scheduler, default and debug config;
#           the C reference (null.c) from the same tree, default and debug;
#           all four for arm64 too (cross-compiled), with the arm64 audit
#   binary: audit of xen-syms (codegen rules), link provenance
#   configs: the configuration matrix (tests/configs/*.config), Rust (C
#           too with MATRIX_C=1), the PV shim as tools/firmware/xen-dir
#           builds it, Rust and C, and random configurations
#           (randconfig.sh); the audit of each Rust build
#   boot:   QEMU boots with sched=null (4 pCPUs, and sched-gran=core on SMT)
#           for all four builds, x86_64 and arm64, and for the matrix
#           configurations that change run-time behaviour; dom0less on the
#           arm64 debug builds (domUs from the device tree, a boot-time
#           null cpupool)
#   package: Debian's hypervisor packages with the Rust null scheduler
#           (scripts/build-deb.sh, Debian's Rust, offline): lintian, config
#           against Debian's, apt, provenance, audit; booted with test_boot
#           and test_xl's sched=null and null-cpupool machines
#   xl:     on the debug builds, x86_64 and arm64 (PVH guests there), the
#           toolstack in dom0 (test_xl): guests on
#           sched=null and on a null cpupool of a credit2 boot, overcommit
#           and FIFO waiters, vcpu-pin, vCPU hotplug, pCPU remove/add,
#           cpupool-migrate, 50 create/destroy cycles, allocation failures
#           (Rust); then the placements of both builds must agree, per
#           architecture
#
# Ends with one line "all: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/scripts/lib.sh"
cd "$REPO"
# The whole run's output is also kept in the cache: whoever reads a CI
# result may see only its tail, and a failed step's full output (a boot's
# post-mortem, say) is what explains it.
mkdir -p "$CACHE/logs"
exec > >(tee "$CACHE/logs/test.sh.log") 2>&1

passed=0
failed=0
failures=()
# -e stays off: a failing step is counted and the run goes on, so that one
# run reports every failure; each step's own commands decide what fails.
finish() {
    for f in "${failures[@]}"; do log "failed: $f"; done
    echo "all: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
# Without the host set up nothing else can run: count that and stop.
if ! "$REPO/scripts/setup-host.sh"; then
    failed=1 failures=("host setup")
    finish
fi
export PATH="$HOME/.cargo/bin:$PATH"

step() {
    local name=$1
    shift
    local t0=$SECONDS
    log "=== $name"
    if "$@"; then
        passed=$((passed + 1))
        log "--- PASS $name ($((SECONDS - t0)) s, at $SECONDS s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        log "--- FAIL $name ($((SECONDS - t0)) s, at $SECONDS s)"
    fi
}

step "host: cargo fmt --check" cargo fmt --all --check
step "host: cargo clippy -D warnings" cargo clippy --workspace --all-targets --quiet -- -D warnings
step "host: cargo test" cargo test --workspace
step "host: exhaustive state search, 3 pCPUs x 4 units (release)" \
    env NULL_EXHAUSTIVE_UNITS=4 cargo test --release -p null-policy --test exhaustive -- --nocapture
step "host: miri (intrusive list, unsafe code)" cargo miri test -p xen-null-sched --lib

declare -A built
build() {
    "$REPO/scripts/build-xen.sh" "$1" "$2" >/dev/null && built[$1-$2]=1
}
for flavour in rust c; do
    for config in default debug; do
        step "build: $flavour-$config" build "$flavour" "$config"
    done
done
build_dir() { echo "$CACHE/build/$1"; }
need_build() { [ -n "${built[$1]:-}" ] || { log "no $1 build"; return 1; }; }
# systest BUILD TESTS...: tests/system/run.py against the Xen of
# $CACHE/build/BUILD (BUILD as build-xen.sh names it: [arm64-]FLAVOUR-CONFIG).
systest() {
    local build=$1 arch=x86_64 flavour=$1
    shift
    case $build in arm64-*) arch=arm64 flavour=${build#arm64-} ;; esac
    need_build "$build" && XEN_ARCH=$arch XEN_IMAGE=$(build_dir "$build")/xen/xen \
        XEN_FLAVOUR=${flavour%%-*} XEN_LOG_TAG=$build python3 tests/system/run.py "$@"
}
# short COMMAND...: the xl scenarios' leak checks with fewer repetitions
# (10 create/destroy cycles instead of 50, 5 pool teardowns instead of 20),
# where the full runs would not fit CI's 90 minutes: arm64 under TCG, the C
# reference and the package. Rust debug on x86 keeps the full counts.
short() { XNR_CHURN_CYCLES=10 XNR_TEARDOWN_CYCLES=5 "$@"; }

audit_tests() {
    need_build c-default && XEN_TREE=$(build_dir c-default) python3 -m unittest discover -s tests/audit -p 'test_audit.py'
}
step "audit tool: checks accept null.c and bite on bad code" audit_tests

audit_build() {
    need_build "$1" && audit_tree "$(build_dir "$1")/xen"
}
audit_tree() {
    python3 tests/audit/audit.py --xen-syms "$1/xen-syms" --config "$1/.config" \
        --object "$1/common/sched/null-rust.o" --hook-table sched_null_def
}
step "binary audit: rust-default" audit_build rust-default
step "binary audit: rust-debug" audit_build rust-debug

clippy_xen() {
    need_build "$1" && "$REPO/scripts/clippy-xen.sh" "$(build_dir "$1")"
}
step "clippy -D warnings, hypervisor code: rust-default" clippy_xen rust-default
step "clippy -D warnings, hypervisor code: rust-debug" clippy_xen rust-debug

link_tests() {
    need_build rust-default && need_build c-default &&
        RUST_TREE=$(build_dir rust-default) C_TREE=$(build_dir c-default) python3 -m unittest tests/audit/test_link.py
}
step "link: Rust object in, null.o out (and reverse for C)" link_tests

kbuild_errors() {
    need_build rust-default &&
        XEN_TREE=$(build_dir rust-default) python3 -m unittest discover -s tests/kbuild
}
step "kbuild: what cannot be built stops at make time, naming the option" kbuild_errors

# arm64, cross-compiled (aarch64-linux-gnu-): the same patch series and
# sources, Rust and C, default and debug; the arm64 code-generation audit
# (tests/audit/audit_arm64.py, with its own tests) and clippy over the
# hypervisor code for the arm64 target; boot tests of all four.
build_arm64() {
    "$REPO/scripts/build-xen.sh" "$1" "$2" --arch arm64 >/dev/null && built[arm64-$1-$2]=1
}
for flavour in rust c; do
    for config in default debug; do
        step "build: arm64 $flavour-$config" build_arm64 "$flavour" "$config"
    done
done
audit_arm64_tests() {
    need_build arm64-c-debug && need_build arm64-rust-debug &&
        XEN_TREE_ARM64_C=$(build_dir arm64-c-debug)/xen \
        XEN_TREE_ARM64_RUST=$(build_dir arm64-rust-debug)/xen \
        python3 -m unittest discover -s tests/audit -p 'test_audit_arm64.py'
}
step "audit tool, arm64: checks accept Xen's flags and bite on bad code" audit_arm64_tests
audit_arm64_build() {
    need_build "$1" && python3 tests/audit/audit_arm64.py \
        --xen-syms "$(build_dir "$1")/xen/xen-syms" \
        --object "$(build_dir "$1")/xen/common/sched/null-rust.o" \
        --hook-table sched_null_def
}
step "binary audit: arm64 rust-default" audit_arm64_build arm64-rust-default
step "binary audit: arm64 rust-debug" audit_arm64_build arm64-rust-debug
step "clippy -D warnings, hypervisor code: arm64 rust-debug" clippy_xen arm64-rust-debug
# arm64 boots (QEMU virt, cortex-a57, 4 pCPUs, dom0 via guest-loader): the
# test_boot checks on all four builds (~4-8 s each under TCG); on the two
# debug builds also the xl scenarios (test_xl, PVH guests), whose
# placements are compared below. make-dom0.sh --arch arm64 builds the
# kernel, the boot initrd and (make-toolstack.sh) the toolstack dom0.
# test_xl on arm64, measured on 2 shared cores beside a CI run: Rust debug
# ~26 min with the full repetitions (of it the pool teardown cycles ~9 min,
# the 50-cycle churn ~7 min), C debug ~19 min. Under `short` (above) the
# two take ~12 min together on an idle machine.
arm64_dom0=
make_dom0_arm64() { "$REPO/scripts/make-dom0.sh" --arch arm64 >/dev/null && arm64_dom0=1; }
step "arm64: make-dom0 (kernel, boot initrd, toolstack initrd)" make_dom0_arm64
with_arm64_dom0() { [ -n "$arm64_dom0" ] || { log "no arm64 dom0"; return 1; }; "$@"; }
for b in rust-debug c-debug; do
    step "boot + xl scenarios: arm64 $b" with_arm64_dom0 short systest "arm64-$b" test_boot test_xl
done
for b in rust-default c-default; do
    step "boot: arm64 $b" with_arm64_dom0 systest "arm64-$b" test_boot
done
step "xl scenarios, arm64: Rust placements equal null.c's" \
    python3 tests/system/compare_placements.py \
    "$CACHE/logs/arm64-rust-debug-placements.json" "$CACHE/logs/arm64-c-debug-placements.json"
# dom0less (tests/system/test_dom0less.py, ~30 s each): domUs from the
# device tree, no dom0; three that fit, and more vCPUs than pCPUs.
for b in rust-debug c-debug; do
    step "dom0less: arm64 $b" systest "arm64-$b" test_dom0less
done
# Boot-time cpupools from the device tree need CONFIG_BOOT_TIME_CPUPOOLS
# (tests/configs/dom0less.config: debug + that); only the cpupool test runs
# there, the others ran above.
for flavour in rust c; do
    step "build: arm64 $flavour-dom0less" build_arm64 "$flavour" dom0less
    if [ "$flavour" = rust ]; then
        step "binary audit: arm64 rust-dom0less" audit_arm64_build arm64-rust-dom0less
    fi
    step "dom0less: arm64 $flavour-dom0less (boot-time null cpupool)" \
        systest "arm64-$flavour-dom0less" test_dom0less.Dom0less.test_boot_time_cpupool_null
done

# The configuration matrix: every fragment of tests/configs besides the
# ones above, with the Rust null scheduler, and its binary audit. The C
# reference is built and tested beside Rust where behaviour is compared
# (default and debug, both architectures, dom0less, the PV shim); in the
# matrix only with MATRIX_C=1 (CI leaves it out to fit its 90 minutes from
# an empty cache: ~60 s per build and ~30 s per boot).
MATRIX=(tracebuffer-off perf-counters lock-debug corners nr-cpus-4095 null-only)
matrix_flavours=(rust)
[ -z "${MATRIX_C:-}" ] || matrix_flavours=(rust c)
for config in "${MATRIX[@]}"; do
    for flavour in "${matrix_flavours[@]}"; do
        step "config $config: build $flavour" build "$flavour" "$config"
    done
    step "config $config: binary audit (rust)" audit_build "rust-$config"
done
# The PV shim, built as Debian's packaging builds it (tools/firmware/xen-dir)
# from the default trees, whose own hypervisors are built.
shim() {
    need_build "$1-default" && "$REPO/scripts/build-shim.sh" "$1" >/dev/null
}
step "config pv-shim: build rust" shim rust
step "config pv-shim: build c" shim c
step "config pv-shim: binary audit (rust)" \
    audit_tree "$(build_dir rust-default)/tools/firmware/xen-dir/xen-root/xen"
# Random configurations: RANDCONFIG_N of them (default 1, to fit CI's
# time; seeds printed; RANDCONFIG_SEEDS rebuilds some; 0 turns it off).
RANDCONFIG_N=${RANDCONFIG_N:-1}
if [ "$RANDCONFIG_N" -gt 0 ]; then
    step "configs: randconfig x$RANDCONFIG_N" "$REPO/scripts/randconfig.sh" "$RANDCONFIG_N"
fi

# The Debian package (scripts/build-deb.sh): Debian's source package with
# xen-patches/, these sources and their vendored crates, built offline with
# Debian's rustc-web; its checks (tests/package: versions, config against
# Debian's, apt, lintian, shipped = built), then link provenance and the
# binary audit on the tree it built in. Booted below.
deb_tree="$CACHE/deb/work/xen-${XEN_DEB_VERSION%-*}"
deb_built=
deb_build() { "$REPO/scripts/build-deb.sh" >/dev/null && deb_built=1; }
step "package: build-deb.sh (hypervisor packages, Debian's Rust, offline)" deb_build
need_deb() { [ -n "$deb_built" ] || { log "no package build"; return 1; }; }
deb_tests() {
    need_deb && DEB_OUT="$CACHE/deb/out" DEB_TREE="$deb_tree" \
        python3 -m unittest -v tests/package/test_package.py
}
step "package: versions, config vs Debian's, apt, lintian, shipped = built" deb_tests
deb_link() { need_deb && RUST_TREE="$deb_tree" python3 -m unittest tests.audit.test_link.RustLink; }
step "package: link provenance (Rust object in, null.o out)" deb_link
deb_audit() { need_deb && audit_tree "$deb_tree/xen"; }
step "package: binary audit" deb_audit

if ! "$REPO/scripts/make-dom0.sh" >/dev/null; then
    failed=$((failed + 1)) failures+=("dom0 kernels/initrds")
    finish
fi
# Boot tests on every build; the xl scenarios (test_xl: guests, cpupools,
# affinity, hotplug, churn, allocation failures) on the debug builds, where
# Xen's ASSERTs and our invariant checks are live.
step "boot + xl scenarios: rust-debug" systest rust-debug test_boot test_xl
step "boot + xl scenarios: c-debug" short systest c-debug test_boot test_xl
for b in rust-default c-default; do
    step "boot: $b" systest "$b" test_boot
done
# The matrix configurations that change what runs: perf counters
# (test_boot then also reads the 'p' key), no trace buffers, lock
# profiling and debugging, 64-word masks, null the only scheduler.
# MATRIX_BOOTS overrides the list; MATRIX_C=1 boots the C builds too.
for config in ${MATRIX_BOOTS-perf-counters tracebuffer-off lock-debug nr-cpus-4095 null-only}; do
    for flavour in "${matrix_flavours[@]}"; do
        step "boot: $flavour-$config" systest "$flavour-$config" test_boot
    done
done
# The hypervisor the package installs (/boot/xen-4.17-amd64.gz, unpacked
# by tests/package), with Debian's own xen-utils-4.17 in dom0.
deb_boot() {
    need_deb && XEN_IMAGE="$CACHE/deb/boot/xen" XEN_FLAVOUR=rust XEN_LOG_TAG=deb-rust \
        short python3 tests/system/run.py test_boot test_xl.NullBoot test_xl.Credit2Boot
}
step "boot + xl scenarios: the package's hypervisor" deb_boot
step "xl scenarios: Rust placements equal null.c's" \
    python3 tests/system/compare_placements.py \
    "$CACHE/logs/rust-debug-placements.json" "$CACHE/logs/c-debug-placements.json"

finish
