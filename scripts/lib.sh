# Shared helpers for the scripts in this directory; source it, do not run it.
#
# Everything downloaded or built (Debian packages, dom0 kernel/initrd, Xen
# builds, test logs) lives under $CACHE, outside the git tree, so it survives
# `git clean` and is shared between work trees on the same machine.

CACHE="${XEN_NULL_CACHE:-/var/cache/xen-null-rs}"

# The Debian 12 Xen this project targets.  The hypervisor is built from this
# source version (fetch-xen.sh), and the dom0 toolstack (make-toolstack.sh)
# must come from the same version: libxenctrl speaks the domctl/sysctl
# interface, which Xen keeps stable only between matching builds.  (apt's
# candidate may be a newer security update; ask for this version by name.)
XEN_DEB_VERSION="${XEN_DEB_VERSION:-4.17.5+72-g01140da4e8-1}"

log() {
    printf '[%s] %s\n' "${0##*/}" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}
