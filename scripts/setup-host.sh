#!/usr/bin/env bash
# Install what building and testing need on a Debian 12 machine (root):
# Debian packages, and a nightly Rust with rust-src (Xen's code-generation
# flags need -Z build-std and -Z options). Idempotent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PACKAGES=(build-essential bc bison flex python3 libclang-dev clang
          qemu-system-x86 busybox-static cpio gzip dpkg-dev xz-utils binutils
          ca-certificates curl ccache)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v rustup >/dev/null; then
    log "installing rustup"
    # rustup-init from the distribution server itself (sh.rustup.rs, the
    # script's usual address, is not reachable from every network that
    # reaches static.rust-lang.org).
    init=$(mktemp)
    curl -sSf -o "$init" "https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/rustup-init"
    chmod +x "$init"
    "$init" -y --profile minimal --default-toolchain stable >/dev/null
    rm -f "$init"
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal >/dev/null
for c in rust-src clippy rustfmt miri; do
    rustup component list --toolchain nightly --installed | grep -q "^$c" ||
        rustup component add --toolchain nightly "$c" >/dev/null
done
rustup target list --toolchain nightly --installed | grep -q '^x86_64-unknown-none$' ||
    rustup target add --toolchain nightly x86_64-unknown-none >/dev/null
for c in clippy rustfmt; do
    rustup component list --installed | grep -q "^$c" || rustup component add "$c" >/dev/null
done
log "host ready: $(rustc +nightly --version)"
