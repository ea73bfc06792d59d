#!/usr/bin/env bash
# randconfig.sh N [SEED...]
# Builds N random Xen configurations (Xen's `make randconfig`) with the Rust
# null scheduler forced (KCONFIG_ALLCONFIG: tests/configs/randconfig.allconfig),
# each in $CACHE/build/rand-rust, and audits the result. The seeds are
# random unless given (RANDCONFIG_SEEDS="s1 s2 ..." or as arguments), and
# each is printed, so `scripts/randconfig.sh 1 SEED` rebuilds a failure.
# A configuration that fails to build is built again with null.c
# (rand-c): if that fails too, it is a Xen-side randconfig problem,
# reported as such and not counted against us.
# Prints one line per seed and ends with "randconfig: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/.." && pwd)

n=${1:?number of configurations}
shift
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || read -r -a seeds <<< "${RANDCONFIG_SEEDS:-}"
while [ ${#seeds[@]} -lt "$n" ]; do
    seeds+=("$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')")
done
use_ccache

# rand_build FLAVOUR SEED: prints the tree's xen/ directory on success.
rand_build() {
    local flavour=$1 seed=$2 dir="$CACHE/build/rand-$1" allconfig
    "$REPO/scripts/prepare-xen.sh" "$flavour" default "$dir" >/dev/null 2>&1 ||
        { log "preparing $dir failed"; return 1; }
    allconfig=$(mktemp)
    cat "$REPO/tests/configs/randconfig.allconfig" > "$allconfig"
    if [ "$flavour" = c ]; then
        printf '# CONFIG_SCHED_NULL_RUST is not set\nCONFIG_SCHED_NULL_C=y\n' >> "$allconfig"
    fi
    KCONFIG_ALLCONFIG=$allconfig KCONFIG_SEED=$seed \
        make -s -C "$dir/xen" randconfig > "$dir.log" 2>&1
    rm -f "$allconfig"
    grep -qx "CONFIG_SCHED_NULL_$( [ "$flavour" = rust ] && echo RUST || echo C )=y" "$dir/xen/.config" ||
        { log "seed $seed: randconfig did not keep the $flavour null scheduler"; return 1; }
    make -C "$dir/xen" -j"$(nproc)" >> "$dir.log" 2>&1 || return 1
    cp "$dir/xen/.config" "$CACHE/logs/randconfig-$seed-$flavour.config"
    echo "$dir/xen"
}

mkdir -p "$CACHE/logs"
passed=0 failed=0
for seed in "${seeds[@]:0:$n}"; do
    start=$(date +%s)
    if t=$(rand_build rust "$seed"); then
        if python3 "$REPO/tests/audit/audit.py" --xen-syms "$t/xen-syms" --config "$t/.config" \
                --object "$t/common/sched/null-rust.o" --hook-table sched_null_def \
                > "$CACHE/logs/randconfig-$seed-audit.log" 2>&1; then
            echo "randconfig seed $seed: rust built and audited ($(( $(date +%s) - start )) s)"
            passed=$((passed + 1))
        else
            echo "randconfig seed $seed: FAIL: audit (see $CACHE/logs/randconfig-$seed-audit.log)"
            failed=$((failed + 1))
        fi
        continue
    fi
    cp "$CACHE/build/rand-rust.log" "$CACHE/logs/randconfig-$seed-rust.log"
    if rand_build c "$seed" >/dev/null; then
        echo "randconfig seed $seed: FAIL: rust does not build, C does (log: $CACHE/logs/randconfig-$seed-rust.log)"
        tail -n 20 "$CACHE/logs/randconfig-$seed-rust.log"
        failed=$((failed + 1))
    else
        echo "randconfig seed $seed: Xen-side randconfig problem: neither rust nor C builds (not counted; log: $CACHE/logs/randconfig-$seed-rust.log)"
    fi
done
echo "randconfig: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
