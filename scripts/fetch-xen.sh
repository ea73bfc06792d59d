#!/usr/bin/env bash
# Fetch Debian 12's Xen source package (the version this project targets)
# and unpack it, Debian patches applied, into $CACHE/src/xen-<version>.
# Enables deb-src by deriving entries from the machine's own apt sources.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC="$CACHE/src/xen-$XEN_DEB_VERSION"

if [ -f "$SRC/xen/common/sched/null.c" ]; then
    echo "$SRC"
    exit 0
fi

# deb-src: the same archives as the deb entries (lib.sh).
ensure_deb_src

mkdir -p "$CACHE/src"
dl=$(mktemp -d "$CACHE/src/dl.XXXXXX")
trap 'rm -rf "$dl"' EXIT
( cd "$dl" && apt-get source --download-only "xen=$XEN_DEB_VERSION" >/dev/null 2>&1 ) ||
    die "apt-get source xen=$XEN_DEB_VERSION failed"
log "unpacking xen $XEN_DEB_VERSION"
( cd "$dl" && dpkg-source --no-check -x ./*.dsc unpacked >/dev/null )
rm -rf "$SRC"
mv "$dl/unpacked" "$SRC"
echo "$SRC"
