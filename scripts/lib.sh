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

# Enable deb-src entries derived from the machine's own apt sources (never
# a host name of ours), then apt-get update; a no-op if some exist.
ensure_deb_src() {
    grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ &&
        return 0
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
            > /etc/apt/sources.list.d/xen-null-rs-deb-src.sources
    elif [ -f /etc/apt/sources.list ]; then
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list \
            > /etc/apt/sources.list.d/xen-null-rs-deb-src.list
    else
        die "no apt sources to derive deb-src entries from"
    fi
    log "apt-get update (deb-src enabled)"
    apt-get update -qq
}

# A fresh initramfs root with the static busybox as /bin/busybox and
# /bin/sh; prints its path. BUSYBOX: the binary (/bin/busybox, the
# installed busybox-static; another architecture's is checked by its caller).
busybox_root() {
    [ "${BUSYBOX:-/bin/busybox}" != /bin/busybox ] ||
    [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] ||
        die "busybox-static is not installed: apt-get install busybox-static"
    local root
    root="$(mktemp -d)"
    chmod 755 "$root"  # becomes the initramfs root; mktemp makes it 0700
    mkdir -p "$root"/{bin,dev,proc,sys}
    cp "${BUSYBOX:-/bin/busybox}" "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    echo "$root"
}

# make_cpio DIR OUT: pack DIR as a gzipped newc initramfs at OUT, then
# remove DIR. No device nodes or ownership to preserve: needs no root.
make_cpio() {
    (cd "$1" && find . -print0 | sort -z |
        cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9 > "$2.tmp"
    rm -rf "$1"
    mv "$2.tmp" "$2"
}

# Compile C through ccache, if installed (setup-host.sh installs it): its
# gcc wrapper first on PATH, the cache under $CACHE. Build trees differ
# only in their directory, which must not split the cache (-g would hash
# it), so the debug info keeps the first tree's directory.
use_ccache() {
    [ -x /usr/lib/ccache/gcc ] || return 0
    export PATH="/usr/lib/ccache:$PATH"
    export CCACHE_DIR="$CACHE/ccache" CCACHE_NOHASHDIR=true CCACHE_MAXSIZE=5G
}

# foreign_apt ARCH: print the path of a private apt configuration that sees
# Debian ARCH packages (e.g. arm64), for `apt-get -c FILE download ...`.
# Its sources are the machine's own (deb822 stanzas or sources.list lines,
# restricted to ARCH); its state and cache live in $CACHE/apt-ARCH; the
# host's dpkg architecture is never touched. Updated on first use.
foreign_apt() {
    local arch=$1 dir="$CACHE/apt-$1"
    local conf="$dir/apt.conf"
    mkdir -p "$dir"/{state/lists/partial,cache/archives/partial,sources.list.d,preferences.d}
    if [ ! -s "$conf" ]; then
        : > "$dir/state/status"
        : > "$dir/sources.list"
        local f
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            # Binary stanzas only, each limited to ARCH.
            awk -v arch="$arch" '
                /^[[:space:]]*$/ { if (deb) print "Architectures: " arch "\n"; deb = 0; next }
                /^Types:/ { deb = ($0 ~ /(^|[[:space:]])deb([[:space:]]|$)/); if (deb) print "Types: deb"; next }
                deb { print }
                END { if (deb) print "Architectures: " arch }' "$f" \
                > "$dir/sources.list.d/${f##*/}"
        done
        if [ -f /etc/apt/sources.list ]; then
            sed -n -E "s/^deb (\[([^]]*)\] )?/deb [arch=$arch \2] /p" /etc/apt/sources.list \
                > "$dir/sources.list"
        fi
        cat > "$conf.tmp" <<CONF
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
Dir::State "$dir/state";
Dir::State::status "$dir/state/status";
Dir::Cache "$dir/cache";
Dir::Etc::SourceList "$dir/sources.list";
Dir::Etc::SourceParts "$dir/sources.list.d";
Dir::Etc::Preferences "$dir/preferences";
Dir::Etc::PreferencesParts "$dir/preferences.d";
APT::Sandbox::User "root";
CONF
        log "apt-get update ($arch, private configuration $conf)"
        apt-get -c "$conf.tmp" update -qq >&2 || die "apt-get update for $arch failed"
        mv "$conf.tmp" "$conf"
    fi
    echo "$conf"
}
