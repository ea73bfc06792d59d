#!/usr/bin/env bash
# build-xen.sh FLAVOUR CONFIG
# Prepares (prepare-xen.sh) and builds Xen in $CACHE/build/FLAVOUR-CONFIG;
# prints the build directory. CONFIG names a fragment in tests/configs.
# The build log is kept next to it. C is compiled through ccache (cache in
# $CACHE/ccache) when it is installed: the Rust and C builds of one
# configuration, and configurations that differ in a few options, share
# most of Xen's objects.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/.." && pwd)

flavour=${1:?flavour: rust|c}
config=${2:?config: a name in tests/configs}
dir="$CACHE/build/$flavour-$config"

"$REPO/scripts/prepare-xen.sh" "$flavour" "$config" "$dir"
use_ccache
log "building Xen ($flavour, $config) in $dir"
start=$(date +%s)
if ! make -C "$dir/xen" -j"$(nproc)" > "$dir.log" 2>&1; then
    tail -n 60 "$dir.log" >&2
    die "Xen build failed ($flavour, $config); log: $dir.log"
fi
log "built in $(( $(date +%s) - start )) s: $dir/xen/xen"
echo "$dir"
