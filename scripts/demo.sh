#!/usr/bin/env bash
# The README's first command: set up the host, build Xen 4.17 (Debian 12's
# source package) patched with the Rust null scheduler, and boot it under
# QEMU with sched=null, Debian's kernel as dom0, showing the scheduler's
# dump. On a fresh Debian 12 machine, as root.
#
#   scripts/demo.sh [--arch x86_64|arm64] [CONFIG]
#
# CONFIG names a fragment of tests/configs (default: default). arm64 is
# cross-built (aarch64-linux-gnu-) and boots on QEMU's virt board with
# Debian's arm64 kernel as dom0.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/scripts/lib.sh"

arch=x86_64
if [ "${1:-}" = --arch ]; then
    arch=${2:?--arch x86_64|arm64}
    shift 2
fi
case $arch in
    x86_64|arm64) ;;
    *) die "--arch: x86_64 or arm64, not $arch" ;;
esac

"$REPO/scripts/setup-host.sh"
export PATH="$HOME/.cargo/bin:$PATH"
dir=$("$REPO/scripts/build-xen.sh" rust "${1:-default}" --arch "$arch")
"$REPO/scripts/make-dom0.sh" --arch "$arch" >/dev/null
python3 "$REPO/scripts/demo.py" --arch "$arch" "$dir/xen/xen"
