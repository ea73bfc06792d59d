# Shared helpers for the scripts in this directory; source it, do not run it.
#
# Everything downloaded or built (Debian packages, dom0 kernel/initrd, Xen
# builds, test logs) lives under $CACHE, outside the git tree, so it survives
# `git clean` and is shared between work trees on the same machine.

CACHE="${XEN_NULL_CACHE:-/var/cache/xen-null-rs}"

log() {
    printf '[%s] %s\n' "${0##*/}" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}
