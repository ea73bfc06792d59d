#!/usr/bin/env bash
# Instruction counts of the null scheduler in real Xen: Rust build vs C build.
#
#   benches/run.sh [--arch x86_64|arm64] [--workload boot] [--settle SECONDS] [--builds rust,c] ...
#   benches/run.sh --report-only $CACHE/bench/<run>    # re-print a report
#
# Boots $CACHE/build/rust-default and $CACHE/build/c-default (as built by
# scripts/build-xen.sh; used read-only) one after the other under
# qemu-system-x86_64 -accel tcg,thread=single -smp 4 with sched=null
# dom0_max_vcpus=2 (--arch arm64: $CACHE/build/arm64-{rust,c}-default under
# qemu-system-aarch64's virt board, dom0 from make-dom0.sh --arch arm64),
# loading benches/xnrcount.c as a TCG plugin that counts
# the guest instructions executed inside the scheduler object's functions,
# per function and per `struct scheduler` hook.  Prints a markdown table per
# hook (entries, instructions per entry, Rust/C ratio), the objects' section
# sizes and the hottest functions of each side; the raw ranges, counts,
# serial logs and report go to $CACHE/bench/<workload>-<time>/.
#
# Only the scheduler's own code is counted (null-rust.o with its C helpers;
# null.o).  Shared Xen code that both call, e.g. _spin_lock, is not.
#
# Workloads (--workload):
#   boot      dom0 initrd.gz; stop at dom0's init marker (+ --settle s idle)
#   churn     dom0 initrd-xl.gz (scripts/make-toolstack.sh): --rounds times
#             xl create a 2-vCPU idle PV guest, wait until up, xl destroy
#   pingpong  initrd-xl.gz: one 2-vCPU guest blocking/waking every 200 us,
#             counted for --settle s (default 10) once it is up
#   pause     initrd-xl.gz: one 2-vCPU busy guest, --rounds times xl pause
#             and xl unpause (the sleep hook: blocking does not enter it)
# Windows that end on wall-clock time make absolute counts vary from run to
# run; instructions per entry are the stable figure.
#
# Needs: qemu-system-x86 (its plugin header comes from Debian's qemu source
# package of the same version, fetched with apt-get source into
# $CACHE/qemu-src), gcc, libglib2.0-dev (installed if missing).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../scripts/lib.sh"

qemu_ver=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null) ||
    die "qemu-system-x86 is not installed (scripts/setup-host.sh installs it)"
# A binNMU (+bN) rebuilds the same source; the source version lacks it.
src_ver=${qemu_ver%+b[0-9]*}
hdr_dir="$CACHE/qemu-src/$src_ver"
hdr="$hdr_dir/qemu-plugin.h"

if [ ! -f "$hdr" ]; then
    ensure_deb_src
    mkdir -p "$hdr_dir"
    log "fetching qemu=$src_ver source for qemu-plugin.h"
    ( cd "$hdr_dir" && apt-get source --download-only "qemu=$src_ver" >/dev/null 2>&1 ) ||
        die "apt-get source qemu=$src_ver failed"
    origs=("$hdr_dir"/qemu_*.orig.tar.*)
    orig=${origs[0]}
    # No grep -m1: tar would die of SIGPIPE and fail the pipeline.
    member=$(tar -tf "$orig" | grep '/include/qemu/qemu-plugin\.h$' || true)
    [ -n "$member" ] || die "no include/qemu/qemu-plugin.h in $orig"
    tar -xf "$orig" -O "$member" > "$hdr.tmp"
    mv "$hdr.tmp" "$hdr"
    # The tarballs are only needed for this one header.
    rm -f "$hdr_dir"/qemu_*
fi

if ! pkg-config --exists glib-2.0 2>/dev/null; then
    log "installing libglib2.0-dev and pkg-config"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libglib2.0-dev pkg-config >/dev/null
fi

plugin_dir="$CACHE/bench/plugin"
plugin="$plugin_dir/libxnrcount.so"
mkdir -p "$plugin_dir"
if [ ! -f "$plugin" ] || [ "$HERE/xnrcount.c" -nt "$plugin" ] || [ "$hdr" -nt "$plugin" ]; then
    log "building $plugin"
    # shellcheck disable=SC2046
    gcc -O2 -Wall -shared -fPIC -I"$hdr_dir" $(pkg-config --cflags glib-2.0) \
        -o "$plugin" "$HERE/xnrcount.c" $(pkg-config --libs glib-2.0)
fi

exec python3 "$HERE/xen_bench.py" --plugin "$plugin" "$@"
