#!/usr/bin/env bash
# The project's test command (README): installs what it needs, then runs
# every test. On a fresh Debian 12 machine, as root.
#
#   host:   cargo fmt/clippy, unit and model tests of the policy core, the
#           intrusive list, the cbindgen header freshness; the audit tool's
#           own tests (each check must bite)
#   build:  Xen 4.17 patched, Rust null scheduler, default and debug config;
#           the C reference (null.c) from the same tree, default and debug
#   binary: audit of xen-syms (codegen rules), link provenance
#   boot:   QEMU boots with sched=null (4 pCPUs, and sched-gran=core on SMT)
#           for all four builds
#   xl:     on the debug builds, the toolstack in dom0 (test_xl): guests on
#           sched=null and on a null cpupool of a credit2 boot, overcommit
#           and FIFO waiters, vcpu-pin, vCPU hotplug, pCPU remove/add,
#           cpupool-migrate, 50 create/destroy cycles, allocation failures
#           (Rust); then the placements of both builds must agree
#
# Ends with one line "all: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/scripts/lib.sh"
cd "$REPO"

"$REPO/scripts/setup-host.sh" || die "host setup failed"
export PATH="$HOME/.cargo/bin:$PATH"

passed=0
failed=0
failures=()
step() {
    local name=$1
    shift
    log "=== $name"
    if "$@"; then
        passed=$((passed + 1))
        log "--- PASS $name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        log "--- FAIL $name"
    fi
}

step "host: cargo fmt --check" cargo fmt --all --check
step "host: cargo clippy -D warnings" cargo clippy --workspace --all-targets --quiet -- -D warnings
step "host: cargo test" cargo test --workspace
step "host: exhaustive state search, 3 pCPUs x 4 units (release)" \
    env NULL_EXHAUSTIVE_UNITS=4 cargo test --release -p null-policy --test exhaustive -- --nocapture
step "host: miri (intrusive list, unsafe code)" cargo +nightly miri test -p xen-null-sched --lib

declare -A built
for flavour in rust c; do
    for config in default debug; do
        if "$REPO/scripts/build-xen.sh" "$flavour" "$config" >/dev/null; then
            built[$flavour-$config]=1
            passed=$((passed + 1))
            log "--- PASS build: $flavour-$config"
        else
            failed=$((failed + 1))
            failures+=("build: $flavour-$config")
        fi
    done
done
tree() { echo "$CACHE/build/$1"; }
need_build() { [ -n "${built[$1]:-}" ] || { log "no $1 build"; return 1; }; }

audit_tests() {
    need_build c-default && XEN_TREE=$(tree c-default) python3 -m unittest discover -s tests/audit -p 'test_audit.py'
}
step "audit tool: checks accept null.c and bite on bad code" audit_tests

audit_build() {
    local t
    need_build "$1" || return 1
    t=$(tree "$1")/xen
    python3 tests/audit/audit.py --xen-syms "$t/xen-syms" --config "$t/.config" \
        --object "$t/common/sched/null-rust.o" --hook-table sched_null_def
}
step "binary audit: rust-default" audit_build rust-default
step "binary audit: rust-debug" audit_build rust-debug

clippy_xen() {
    need_build "$1" && "$REPO/scripts/clippy-xen.sh" "$(tree "$1")"
}
step "clippy -D warnings, hypervisor code: rust-default" clippy_xen rust-default
step "clippy -D warnings, hypervisor code: rust-debug" clippy_xen rust-debug

link_tests() {
    need_build rust-default && need_build c-default &&
        RUST_TREE=$(tree rust-default) C_TREE=$(tree c-default) python3 -m unittest tests/audit/test_link.py
}
step "link: Rust object in, null.o out (and reverse for C)" link_tests

"$REPO/scripts/make-dom0.sh" >/dev/null || die "dom0 kernels/initrds failed"
# Boot tests on every build; the xl scenarios (test_xl: guests, cpupools,
# affinity, hotplug, churn, allocation failures) on the debug builds, where
# Xen's ASSERTs and our invariant checks are live.
boot() {
    local build=$1 flavour=${1%%-*}
    shift
    need_build "$build" || return 1
    XEN_IMAGE=$(tree "$build")/xen/xen XEN_FLAVOUR=$flavour XEN_LOG_TAG=$build \
        python3 tests/system/run.py "$@"
}
for b in rust-debug c-debug; do
    step "boot + xl scenarios: $b" boot "$b" test_boot test_xl
done
for b in rust-default c-default; do
    step "boot: $b" boot "$b" test_boot
done
step "xl scenarios: Rust placements equal null.c's" \
    python3 tests/system/compare_placements.py \
    "$CACHE/logs/rust-debug-placements.json" "$CACHE/logs/c-debug-placements.json"

for f in "${failures[@]}"; do log "failed: $f"; done
echo "all: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
