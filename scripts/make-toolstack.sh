#!/bin/bash
# Build the dom0 with Xen's toolstack that the scenario tests drive with `xl`
# (tests/system/test_xl.py), from Debian 12 packages:
#   make-toolstack.sh [--arch x86_64|arm64]
#   $OUT/initrd-xl.gz     busybox-static initramfs: xl, xenstored,
#                         xenconsoled, the xenstore-* tools, xentrace
#                         and xenalyze, and their libraries, the Xen kernel
#                         modules, and a test guest under /guest (see below)
#   $OUT/guest-initrd.gz  the test guest's busybox initramfs
# OUT is $CACHE/dom0 (x86_64) or $CACHE/dom0/arm64. Everything that differs
# between the architectures is set in the `case $arch` below: the Debian
# architecture and where its packages come from (arm64: the private apt
# configuration of lib.sh's foreign_apt), the library directory and the
# dynamic loader, the test guest (x86_64: PV, the kernel ELF taken out of
# the bzImage; arm64: PVH, which is all Arm has, the kernel's Image as it
# is) and the extra libraries (arm64: libfdt1, for libxenguest).
#
# The files copied into the initramfs are in scripts/dom0/ (its README
# says which goes where). The dom0 /init starts the toolstack, prints
# "XEN-NULL-RS: toolstack ready" (or "XEN-NULL-RS: toolstack failed:
# <step>") and runs a shell on the console, with echo off, for
# XenQemu.sh().  In dom0:
#   xnr-guest NAME MODE VCPUS [KEY=VALUE...]   start a test guest; the extra
#       xl settings override the guest config, e.g. 'pool="nullpool"'
#   xnr-wait NAME [SECONDS]                    wait for its "up" line
# The guest runs the dom0 kernel; its /init prints
# "XEN-NULL-RS: guest NAME up nproc=N mode=MODE", then per MODE:
#   busy      one spinning loop pinned to each vCPU (always runnable)
#   idle      nothing (vCPUs block)
#   pingpong  two loops per vCPU sleeping 200 us at a time (block/wake storm)
# Guest consoles are logged by xenconsoled to
# /var/log/xen/console/guest-NAME.log.
#
# Called by make-dom0.sh, which provides the kernel ($OUT/vmlinuz or
# $OUT/Image) and, for arm64, the static busybox.  Idempotent: the outputs
# are rebuilt only if missing or older than this script, a file in
# scripts/dom0/ or the kernel.
set -euo pipefail

SCRIPT="$(readlink -f "${BASH_SOURCE[0]}")"
. "$(dirname "$SCRIPT")/lib.sh"
FILES="$(dirname "$SCRIPT")/dom0"

arch=x86_64
if [ "${1:-}" = --arch ]; then arch=${2:?--arch x86_64|arm64}; fi
DEBS="$CACHE/debs"
APT_OPTS=()
EXTRA_LIB_PKGS=()
case $arch in
    x86_64)
        DEB_ARCH=amd64 TRIPLET=x86_64-linux-gnu
        OUT="$CACHE/dom0" VMLINUZ="$CACHE/dom0/vmlinuz" BUSYBOX=/bin/busybox
        # PT_INTERP of the binaries: the loader, and where they look for it.
        LOADER=ld-linux-x86-64.so.2 LOADER_LINK=lib64/ld-linux-x86-64.so.2
        GUEST_CFG_SRC=pv.cfg GUEST_CFG=/guest/pv.cfg GUEST_KERNEL=vmlinux ;;
    arm64)
        DEB_ARCH=arm64 TRIPLET=aarch64-linux-gnu
        OUT="$CACHE/dom0/arm64" VMLINUZ="$CACHE/dom0/arm64/Image"
        BUSYBOX="$CACHE/dom0/arm64/busybox"
        LOADER=ld-linux-aarch64.so.1 LOADER_LINK=lib/ld-linux-aarch64.so.1
        GUEST_CFG_SRC=pvh-arm64.cfg GUEST_CFG=/guest/pvh.cfg GUEST_KERNEL=Image
        # libxenguest builds an Arm guest's device tree with libfdt.
        EXTRA_LIB_PKGS=(libfdt1)
        APT_OPTS=(-c "$(foreign_apt arm64)") ;;
    *) die "--arch: x86_64 or arm64, not $arch" ;;
esac
export BUSYBOX  # busybox_root (lib.sh)
INITRD_XL="$OUT/initrd-xl.gz"
GUEST_INITRD="$OUT/guest-initrd.gz"

# Binary packages of the Xen source package, all at exactly $XEN_DEB_VERSION.
XEN_PKGS=(xen-utils-4.17 xen-utils-common xenstore-utils libxenmisc4.17 libxencall1
          libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 libxengnttab1
          libxenhypfs1 libxenstore4 libxentoolcore1 libxentoollog1)
# Other libraries the tools need (DT_NEEDED, found with readelf -d), at
# whatever version apt offers: Debian keeps their ABI within a release.
# libgcc_s is dlopen()ed by glibc for pthread_cancel, so no DT_NEEDED names
# it; xenconsoled and xl cancel threads.
LIB_PKGS=(libc6 libgcc-s1 liblzma5 libuuid1 libyajl2 zlib1g libzstd1
          "${EXTRA_LIB_PKGS[@]}")

XEN_BIN=/usr/lib/xen-4.17/bin
# Debian's /usr/sbin/xl etc. are wrappers that pick a Xen version; the
# initramfs carries the real binaries at their real paths (libxl looks for
# its helpers, e.g. xenconsole for `xl console`, in $XEN_BIN).
TOOLS=("$XEN_BIN/xl" "$XEN_BIN/xenstored" "$XEN_BIN/xenconsoled"
       "$XEN_BIN/xen-init-dom0" "$XEN_BIN/xenconsole"
       "$XEN_BIN/xenstore-control" /usr/bin/xenstore
       "$XEN_BIN/xentrace" /usr/bin/xenalyze)
# /usr/bin/xenstore-* are hard links to /usr/bin/xenstore, which looks at
# argv[0].
XENSTORE_CMDS=(chmod exists list ls read rm watch write)
# In load order: each module's depends= (modinfo) must come before it.  The
# rest of Xen's dom0 support (xenbus, hvc_xen, balloon) is built in.
MODULES=(xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs)
# Where libraries are looked up in the unpacked packages; in the initramfs
# they all go to /lib/$TRIPLET, which Debian's ld.so searches without an
# ld.so.cache.
LIB_DIRS=("lib/$TRIPLET" "usr/lib/$TRIPLET" "usr/lib/xen-4.17/lib/$TRIPLET")

fresh() {
    local f
    [ -e "$1" ] && [ "$1" -nt "$SCRIPT" ] && [ "$1" -nt "$VMLINUZ" ] || return 1
    for f in "$FILES"/*; do
        [ "$1" -nt "$f" ] || return 1
    done
}

# Print the path of package $1's .deb in $DEBS, downloading it first if
# needed.  $2, if given, is the exact version wanted.
deb_of() {
    local pkg=$1 version=${2:-} pattern deb
    # .deb names spell the epoch's colon as %3a; no version here has one.
    pattern="$DEBS/${pkg}_${version:-*}_$DEB_ARCH.deb"
    # shellcheck disable=SC2086  # $pattern is a glob on purpose
    deb="$(ls -t $pattern 2>/dev/null | head -n1 || true)"
    if [ -z "$deb" ]; then
        mkdir -p "$DEBS"
        # Into $DEBS; as root, apt's _apt sandbox user could not write there.
        (cd "$DEBS" && apt-get "${APT_OPTS[@]}" download -q -o APT::Sandbox::User=root \
            "$pkg${version:+=$version}" >&2)
        # shellcheck disable=SC2086
        deb="$(ls -t $pattern | head -n1)"
    fi
    echo "$deb"
}

# Unpack every package the initramfs takes files from into $1.
unpack_packages() {
    local stage=$1 pkg kdeb
    for pkg in "${XEN_PKGS[@]}"; do
        dpkg-deb -x "$(deb_of "$pkg" "$XEN_DEB_VERSION")" "$stage"
    done
    for pkg in "${LIB_PKGS[@]}"; do
        dpkg-deb -x "$(deb_of "$pkg")" "$stage"
    done
    # The modules must match the kernel: take them from the .deb that
    # make-dom0.sh took vmlinuz from.
    kdeb="$DEBS/$(cut -d' ' -f2 "$OUT/vmlinuz.source")"
    [ -f "$kdeb" ] || die "kernel package $kdeb is gone; rerun make-dom0.sh"
    dpkg-deb --fsys-tarfile "$kdeb" |
        tar -x -C "$stage" --wildcards './lib/modules/*/kernel/drivers/xen/*'
}

# Find library $2 in the unpacked packages under $1.
find_lib() {
    local dir
    for dir in "${LIB_DIRS[@]}"; do
        if [ -e "$1/$dir/$2" ]; then
            echo "$1/$dir/$2"
            return
        fi
    done
    die "library $2 is in none of: ${LIB_PKGS[*]} ${XEN_PKGS[*]}"
}

# Copy the file at path $3 under stage $1 to the same path under root $2,
# then the libraries it needs (see copy_libs).
copy_tool() {
    mkdir -p "$2/$(dirname "$3")"
    cp -L "$1/$3" "$2/$3"
    copy_libs "$1" "$2" "$1/$3"
}

# Copy the libraries ELF file $3 names in DT_NEEDED, and theirs, from stage
# $1 to root $2's /lib/$TRIPLET.
copy_libs() {
    local stage=$1 root=$2 lib src
    for lib in $(readelf -d "$3" |
                 sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p'); do
        [ ! -e "$root/lib/$TRIPLET/$lib" ] || continue
        src="$(find_lib "$stage" "$lib")"
        cp -L "$src" "$root/lib/$TRIPLET/$lib"
        copy_libs "$stage" "$root" "$src"
    done
}

# Die unless every module kernel module $1 ($2.ko) depends on is loaded
# before it in MODULES.
check_module_deps() {
    local dep m
    for dep in $(strings "$1" | sed -n 's/^depends=//p' | tr ',' ' '); do
        for m in "${MODULES[@]}"; do
            [ "$m" != "$2" ] || die "$2 needs $dep: put it first in MODULES"
            [ "$m" != "$dep" ] || continue 2
        done
    done
}

# The test guest's initramfs: busybox and an /init that runs one load mode.
build_guest_initrd() {
    local root
    root="$(busybox_root)"
    # Its marker lines: tests/system/support.py waits for them.
    install -m 755 "$FILES/guest-init" "$root/init"
    make_cpio "$root" "$GUEST_INITRD"
}

build_dom0_initrd() {
    local root stage mod ko kdir cmd
    root="$(busybox_root)"
    stage="$(mktemp -d)"
    unpack_packages "$stage"

    mkdir -p "$root"/{run,var,tmp,etc/xen,guest} "$root/$(dirname "$LOADER_LINK")"
    mkdir -p "$root/lib/$TRIPLET" "$root/lib/modules/xen"

    # glibc: the dynamic loader where the binaries' PT_INTERP says, and
    # libgcc_s, which glibc loads by name (see LIB_PKGS).
    cp -L "$stage/lib/$TRIPLET/$LOADER" "$root/lib/$TRIPLET/"
    ln -s "$(realpath -m --relative-to="/$(dirname "$LOADER_LINK")" "/lib/$TRIPLET/$LOADER")" \
        "$root/$LOADER_LINK"
    cp -L "$(find_lib "$stage" libgcc_s.so.1)" "$root/lib/$TRIPLET/"
    for cmd in "${TOOLS[@]}"; do
        copy_tool "$stage" "$root" "${cmd#/}"
    done
    for cmd in "${XENSTORE_CMDS[@]}"; do
        ln -s xenstore "$root/usr/bin/xenstore-$cmd"
    done

    kdir="$(echo "$stage"/lib/modules/*/kernel/drivers/xen)"
    for mod in "${MODULES[@]}"; do
        ko="$(find "$kdir" -name "$mod.ko")"
        [ -n "$ko" ] || die "no $mod.ko in the kernel package"
        check_module_deps "$ko" "$mod"
        cp "$ko" "$root/lib/modules/xen/"
    done

    # With autoballoon, xl would shrink dom0 to make room for each guest;
    # with dom0_mem= Xen has enough free memory, and ballooning is slow.
    cp "$FILES/xl.conf" "$root/etc/xen/xl.conf"

    case $GUEST_KERNEL in
        # The guest kernel as a plain ELF: from the bzImage, xl would unpack
        # the xz payload in dom0 on every `xl create`, which under TCG took
        # ~19 s per guest; the ELF loads in ~4-9 s (measured on this machine).
        vmlinux) python3 "$FILES/extract-vmlinux.py" "$VMLINUZ" "$root/guest/vmlinux" ;;
        # Debian's arm64 vmlinuz is already an uncompressed Image.
        Image) cp "$VMLINUZ" "$root/guest/Image" ;;
    esac
    cp "$GUEST_INITRD" "$root/guest/initrd.gz"
    cp "$FILES/$GUEST_CFG_SRC" "$root$GUEST_CFG"
    sed "s|@GUEST_CFG@|$GUEST_CFG|g" "$FILES/xnr-guest" > "$root/bin/xnr-guest"
    cp "$FILES/xnr-wait" "$root/bin/xnr-wait"
    chmod 755 "$root/bin/xnr-guest" "$root/bin/xnr-wait"

    write_dom0_init "$root/init"
    make_cpio "$root" "$INITRD_XL"
    rm -rf "$stage"
}

# Write the dom0 /init to $1: the module list, then scripts/dom0/dom0-init
# (its markers: tests/system/support.py waits for them).
write_dom0_init() {
    {
        echo '#!/bin/sh'
        echo "MODULES=\"${MODULES[*]}\""
        cat "$FILES/dom0-init"
    } > "$1"
    chmod 755 "$1"
}

[ -e "$VMLINUZ" ] || die "$VMLINUZ missing: run make-dom0.sh"
command -v readelf >/dev/null || die "readelf missing: apt-get install binutils"

if fresh "$GUEST_INITRD"; then
    log "cached: $GUEST_INITRD"
else
    build_guest_initrd
fi

# The dom0 initramfs contains the guest's.
if fresh "$INITRD_XL" && [ "$INITRD_XL" -nt "$GUEST_INITRD" ]; then
    log "cached: $INITRD_XL"
else
    build_dom0_initrd
fi

echo "initrd-xl:    $INITRD_XL"
echo "guest initrd: $GUEST_INITRD"
