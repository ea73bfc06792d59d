#!/bin/bash
# Build the dom0 used by the QEMU boot tests (tests/system):
#   $CACHE/dom0/vmlinuz    Debian 12's generic amd64 kernel (boots as PV dom0)
#   $CACHE/dom0/initrd.gz  busybox-static initramfs whose /init prints the
#                          marker the tests wait for, then idles
# and then, with make-toolstack.sh, the dom0 with `xl` and a PV test guest
# ($CACHE/dom0/initrd-xl.gz) for the scenario tests.
# Idempotent: an output is rebuilt only if missing or older than this script.
set -euo pipefail

SCRIPT="$(readlink -f "${BASH_SOURCE[0]}")"
. "$(dirname "$SCRIPT")/lib.sh"

DEBS="$CACHE/debs"
OUT="$CACHE/dom0"
VMLINUZ="$OUT/vmlinuz"
INITRD="$OUT/initrd.gz"
BUSYBOX=/bin/busybox

# True if $1 exists and is newer than this script (i.e. the cached copy is valid).
fresh() {
    [ -e "$1" ] && [ "$1" -nt "$SCRIPT" ]
}

# Newest linux-image-6.1.0-N-amd64-unsigned with a download candidate.  The
# unsigned flavour is the plain kernel; the signed one only adds a Secure Boot
# signature.  The regex already excludes -dbg, -cloud and -rt.
newest_kernel_pkg() {
    apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' |
        cut -d' ' -f1 | sort -V -r |
        while read -r pkg; do
            # No `grep -q` here: exiting early would SIGPIPE apt-cache and
            # pipefail would turn that into a miss.
            if apt-cache policy "$pkg" | grep 'Candidate: [0-9]' >/dev/null; then
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
        apt-get update -qq
        pkg="$(newest_kernel_pkg)"
    fi
    [ -n "$pkg" ] || die "apt knows no linux-image-6.1.0-*-amd64-unsigned package"
    log "kernel package: $pkg"

    mkdir -p "$DEBS" "$OUT"
    # Reuse an earlier download of the same package (~70 MB).
    deb="$(ls -t "$DEBS/${pkg}"_*.deb 2>/dev/null | head -n1 || true)"
    if [ -z "$deb" ]; then
        # apt-get download writes into the current directory; as root it
        # would warn that its _apt sandbox user cannot write there.
        (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "$pkg")
        deb="$(ls -t "$DEBS/${pkg}"_*.deb | head -n1)"
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

build_initrd() {
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
"$(dirname "$SCRIPT")/make-toolstack.sh"
