#!/usr/bin/env bash
# The README's first command: set up the host, build Xen 4.17 (Debian 12's
# source package) patched with the Rust null scheduler, and boot it under
# QEMU with sched=null, Debian's kernel as dom0, showing the scheduler's
# dump. On a fresh Debian 12 machine, as root.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/scripts/lib.sh"

"$REPO/scripts/setup-host.sh"
export PATH="$HOME/.cargo/bin:$PATH"
dir=$("$REPO/scripts/build-xen.sh" rust "${1:-default}")
"$REPO/scripts/make-dom0.sh" >/dev/null
python3 "$REPO/scripts/demo.py" "$dir/xen/xen"
