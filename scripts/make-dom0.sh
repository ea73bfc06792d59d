#!/bin/bash
# Build the dom0 used by the QEMU boot tests (tests/system):
#   make-dom0.sh [--arch x86_64|arm64]
# x86_64 (the default):
#   $CACHE/dom0/vmlinuz    Debian 12's generic amd64 kernel (boots as PV dom0)
#   $CACHE/dom0/initrd.gz  busybox-static initramfs whose /init prints the
#                          marker the tests wait for, then idles
# arm64: $CACHE/dom0/arm64/{Image,initrd.gz}, Debian 12's arm64 kernel
# (its vmlinuz is an uncompressed Image) and the same initramfs with the
# arm64 static busybox, both from a private apt configuration (foreign_apt
# in lib.sh).
# Then, for either, make-toolstack.sh: the dom0 with `xl` and a test guest
# (initrd-xl.gz and guest-initrd.gz beside initrd.gz) for the scenario
# tests.
# Idempotent: an output is rebuilt only if missing or older than this script.
set -euo pipefail

SCRIPT="$(readlink -f "${BASH_SOURCE[0]}")"
. "$(dirname "$SCRIPT")/lib.sh"

arch=x86_64
if [ "${1:-}" = --arch ]; then arch=${2:?--arch x86_64|arm64}; fi
DEBS="$CACHE/debs"
APT_OPTS=()
case $arch in
    x86_64) DEB_ARCH=amd64 OUT="$CACHE/dom0" VMLINUZ="$CACHE/dom0/vmlinuz"
            BUSYBOX=/bin/busybox ;;
    arm64) DEB_ARCH=arm64 OUT="$CACHE/dom0/arm64" VMLINUZ="$CACHE/dom0/arm64/Image"
           BUSYBOX="$CACHE/dom0/arm64/busybox"
           APT_OPTS=(-c "$(foreign_apt arm64)") ;;
    *) die "--arch: x86_64 or arm64, not $arch" ;;
esac
INITRD="$OUT/initrd.gz"

# True if $1 exists and is newer than this script (i.e. the cached copy is valid).
fresh() {
    [ -e "$1" ] && [ "$1" -nt "$SCRIPT" ]
}

# Newest linux-image-6.1.0-N-$DEB_ARCH-unsigned with a download candidate.  The
# unsigned flavour is the plain kernel; the signed one only adds a Secure Boot
# signature.  The regex already excludes -dbg, -cloud and -rt.
newest_kernel_pkg() {
    apt-cache "${APT_OPTS[@]}" search --names-only "^linux-image-6\\.1\\.0-[0-9]+-$DEB_ARCH-unsigned\$" |
        cut -d' ' -f1 | sort -V -r |
        while read -r pkg; do
            # No `grep -q` here: exiting early would SIGPIPE apt-cache and
            # pipefail would turn that into a miss.
            if apt-cache "${APT_OPTS[@]}" policy "$pkg" | grep 'Candidate: [0-9]' >/dev/null; then
                echo "$pkg"
                break
            fi
        done
}

build_vmlinuz() {
    local pkg deb
    pkg="$(newest_kernel_pkg)"
    if [ -z "$pkg" ]; then
        log "no kernel package known to apt; running apt-get update"
        apt-get "${APT_OPTS[@]}" update -qq
        pkg="$(newest_kernel_pkg)"
    fi
    [ -n "$pkg" ] || die "apt knows no linux-image-6.1.0-*-$DEB_ARCH-unsigned package"
    log "kernel package: $pkg"

    mkdir -p "$DEBS" "$OUT"
    # Reuse an earlier download of the same package (~70 MB).
    deb="$(ls -t "$DEBS/${pkg}"_*_"$DEB_ARCH".deb 2>/dev/null | head -n1 || true)"
    if [ -z "$deb" ]; then
        # apt-get download writes into the current directory; as root it
        # would warn that its _apt sandbox user cannot write there.
        (cd "$DEBS" && apt-get "${APT_OPTS[@]}" download -q -o APT::Sandbox::User=root "$pkg")
        deb="$(ls -t "$DEBS/${pkg}"_*_"$DEB_ARCH".deb | head -n1)"
    fi

    local tmp
    tmp="$(mktemp -d)"
    # -m: stamp the file with the extraction time, which fresh() relies on.
    dpkg-deb --fsys-tarfile "$deb" | tar -x -m -C "$tmp" --wildcards './boot/vmlinuz-*'
    mv "$tmp"/boot/vmlinuz-* "$VMLINUZ.tmp"
    rm -rf "$tmp"
    mv "$VMLINUZ.tmp" "$VMLINUZ"
    echo "$pkg $(basename "$deb")" > "$OUT/vmlinuz.source"
}

# arm64: the static busybox from busybox-static_*_arm64.deb.
fetch_busybox() {
    local deb tmp
    mkdir -p "$DEBS" "$OUT"
    deb="$(ls -t "$DEBS"/busybox-static_*_"$DEB_ARCH".deb 2>/dev/null | head -n1 || true)"
    if [ -z "$deb" ]; then
        (cd "$DEBS" && apt-get "${APT_OPTS[@]}" download -q busybox-static)
        deb="$(ls -t "$DEBS"/busybox-static_*_"$DEB_ARCH".deb | head -n1)"
    fi
    tmp="$(mktemp -d)"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -m -C "$tmp" ./bin/busybox
    mv "$tmp/bin/busybox" "$BUSYBOX"
    rm -rf "$tmp"
}

build_initrd() {
    [ "$BUSYBOX" = /bin/busybox ] || fresh "$BUSYBOX" || fetch_busybox
    # The initramfs has no libraries, so it needs the static busybox build.
    local root
    root="$(busybox_root)"

    # The marker line is what tests/system waits for; keep it in sync.
    cat > "$root/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The cpio carries no device nodes (building it needs no root); reopen the
# console from devtmpfs in case the kernel could not give init one.
exec </dev/console >/dev/console 2>&1
echo "XEN-NULL-RS: dom0 init reached"
echo "XEN-NULL-RS: nproc=$(nproc) cpuinfo_processors=$(grep -c '^processor' /proc/cpuinfo)"
# Stay alive: the test sends Xen debug keys, then kills QEMU.
while true; do sleep 1; done
INIT
    chmod 755 "$root/init"

    mkdir -p "$OUT"
    make_cpio "$root" "$INITRD"
}

if fresh "$VMLINUZ"; then
    log "cached: $VMLINUZ"
else
    build_vmlinuz
fi

if fresh "$INITRD"; then
    log "cached: $INITRD"
else
    build_initrd
fi

echo "vmlinuz: $VMLINUZ"
echo "initrd:  $INITRD"
"$(dirname "$SCRIPT")/make-toolstack.sh" --arch "$arch"
