#!/usr/bin/env bash
# build-xen.sh FLAVOUR CONFIG [--arch x86_64|arm64]   (env: XEN_NULL_RUST, below)
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

# Which Rust builds the hypervisor object: XEN_NULL_RUST=rustup (default:
# the nightly rust-toolchain.toml pins, which the host tests use too) or
# debian (Debian 12's rustc-web/cargo-web with rust-web-src, -Z flags
# through RUSTC_BOOTSTRAP=1, as the Debian package builds it; its own tree,
# $dir-debian-rust).
make_args=()
case ${XEN_NULL_RUST:-rustup} in
    rustup) ;;
    debian) [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust/library ] ||
                die "XEN_NULL_RUST=debian needs rustc-web, cargo-web and rust-web-src"
            dir="$dir-debian-rust"
            export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc
            make_args=(NULL_RUST_TOOLCHAIN= CARGO=/usr/bin/cargo) ;;
    *) die "XEN_NULL_RUST: rustup or debian, not $XEN_NULL_RUST" ;;
esac

"$REPO/scripts/prepare-xen.sh" "$flavour" "$config" "$dir"
use_ccache
log "building Xen ($flavour, $config, $arch) in $dir"
start=$(date +%s)
if ! make -C "$dir/xen" -j"$(nproc)" "${make_args[@]}" > "$dir.log" 2>&1; then
    tail -n 60 "$dir.log" >&2
    die "Xen build failed ($flavour, $config, $arch); log: $dir.log"
fi
log "built in $(( $(date +%s) - start )) s: $dir/xen/xen"
echo "$dir"
