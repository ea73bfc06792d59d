#!/usr/bin/env bash
# build-xen.sh FLAVOUR CONFIG [--arch x86_64|arm64]
# Prepares (prepare-xen.sh) and builds Xen in $CACHE/build/FLAVOUR-CONFIG
# (arm64: $CACHE/build/arm64-FLAVOUR-CONFIG, cross-compiled with
# aarch64-linux-gnu-); prints the build directory. CONFIG names a fragment
# in tests/configs.
# The build log is kept next to it. C is compiled through ccache (cache in
# $CACHE/ccache) when it is installed: the Rust and C builds of one
# configuration, and configurations that differ in a few options, share
# most of Xen's objects.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/.." && pwd)

flavour=${1:?flavour: rust|c}
config=${2:?config: a name in tests/configs}
arch=x86_64
if [ "${3:-}" = --arch ]; then arch=${4:?--arch x86_64|arm64}; fi
case $arch in
    x86_64) dir="$CACHE/build/$flavour-$config" ;;
    # Every make of the tree, defconfig included (prepare-xen.sh), must see
    # these; Xen reads both from the environment.
    arm64) dir="$CACHE/build/arm64-$flavour-$config"
           export XEN_TARGET_ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- ;;
    *) die "--arch: x86_64 or arm64, not $arch" ;;
esac

"$REPO/scripts/prepare-xen.sh" "$flavour" "$config" "$dir"
use_ccache
log "building Xen ($flavour, $config, $arch) in $dir"
start=$(date +%s)
if ! make -C "$dir/xen" -j"$(nproc)" > "$dir.log" 2>&1; then
    tail -n 60 "$dir.log" >&2
    die "Xen build failed ($flavour, $config, $arch); log: $dir.log"
fi
log "built in $(( $(date +%s) - start )) s: $dir/xen/xen"
echo "$dir"
