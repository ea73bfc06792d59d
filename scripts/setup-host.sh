#!/usr/bin/env bash
# Install what building and testing need on a Debian 12 machine (root):
# Debian packages, and the nightly Rust that rust-toolchain.toml pins, with
# rust-src (Xen's code-generation flags need -Z build-std and -Z options).
# Idempotent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PACKAGES=(build-essential bc bison flex python3 libclang-dev clang
          qemu-system-x86 busybox-static cpio gzip dpkg-dev xz-utils binutils
          ca-certificates curl ccache
          gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
          qemu-system-arm device-tree-compiler
          # scripts/build-deb.sh: Debian's Rust and what the hypervisor
          # packages' build (profile pkg.xen.hvonly) depends on, lintian
          rustc-web cargo-web rust-web-src debhelper dh-exec dh-python
          python3-dev quilt lintian)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    apt-get update -qq
    # The tests run Debian 12's QEMU (7.2). A machine image may carry a
    # backported qemu-utils (10.x, with no archive behind it) whose Breaks
    # on qemu-system-common (<< 8.0) make apt refuse the whole install:
    # bring qemu-utils to the version Debian 12's qemu-system-* come with.
    qemu=$(apt-cache policy qemu-system-common | awk '/Candidate:/ { print $2 }')
    have=$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)
    if [ -n "$have" ] && [ -n "$qemu" ] && [ "$have" != "$qemu" ]; then
        log "qemu-utils $have -> $qemu (Debian 12's QEMU)"
        missing+=("qemu-utils=$qemu")
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades "${missing[@]}" >/dev/null
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v rustup >/dev/null; then
    log "installing rustup"
    # rustup-init from the distribution server itself (sh.rustup.rs, the
    # script's usual address, is not reachable from every network that
    # reaches static.rust-lang.org).
    # It must be called rustup-init: rustup's binaries choose their role
    # by their own name.
    dir=$(mktemp -d)
    curl -sSf -o "$dir/rustup-init" "https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/rustup-init"
    chmod +x "$dir/rustup-init"
    "$dir/rustup-init" -y --profile minimal --default-toolchain none >/dev/null
    rm -rf "$dir"
fi
# The toolchain rust-toolchain.toml pins, with its components and target
# (the host tests, miri and the hypervisor object all use it).
toml="$(dirname "$0")/../rust-toolchain.toml"
channel=$(sed -n 's/^channel *= *"\(.*\)"$/\1/p' "$toml")
[ -n "$channel" ] || die "no channel in $toml"
components=$(sed -n 's/^components *= *\[\(.*\)\]$/\1/p' "$toml" | tr -d '",')
targets=$(sed -n 's/^targets *= *\[\(.*\)\]$/\1/p' "$toml" | tr -d '",')
rustup toolchain list | grep -q "^$channel" ||
    rustup toolchain install "$channel" --profile minimal >/dev/null
for c in $components; do
    rustup component list --toolchain "$channel" --installed | grep -q "^$c" ||
        rustup component add --toolchain "$channel" "$c" >/dev/null
done
for t in $targets; do
    rustup target list --toolchain "$channel" --installed | grep -q "^$t\$" ||
        rustup target add --toolchain "$channel" "$t" >/dev/null
done
log "host ready: $(rustc "+$channel" --version)"
