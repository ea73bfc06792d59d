#!/bin/bash
# Build the dom0 with Xen's toolstack that the scenario tests drive with `xl`
# (tests/system/test_xl.py), from Debian 12 packages:
#   $CACHE/dom0/initrd-xl.gz     busybox-static initramfs: xl, xenstored,
#                                xenconsoled, the xenstore-* tools, xentrace
#                                and xenalyze, and their libraries, the Xen kernel modules, and a PV
#                                test guest under /guest (see below)
#   $CACHE/dom0/guest-initrd.gz  the test guest's busybox initramfs
#
# The dom0 /init starts the toolstack, prints "XEN-NULL-RS: toolstack ready"
# (or "XEN-NULL-RS: toolstack failed: <step>") and runs a shell on the
# console, with echo off, for XenQemu.sh().  In dom0:
#   xnr-guest NAME MODE VCPUS [KEY=VALUE...]   start a test guest; the extra
#       xl settings override /guest/pv.cfg, e.g. 'pool="nullpool"'
#   xnr-wait NAME [SECONDS]                    wait for its "up" line
# The guest runs the dom0 kernel; its /init prints
# "XEN-NULL-RS: guest NAME up nproc=N mode=MODE", then per MODE:
#   busy      one spinning loop pinned to each vCPU (always runnable)
#   idle      nothing (vCPUs block)
#   pingpong  two loops per vCPU sleeping 200 us at a time (block/wake storm)
# Guest consoles are logged by xenconsoled to
# /var/log/xen/console/guest-NAME.log.
#
# Called by make-dom0.sh, which provides $CACHE/dom0/vmlinuz.  Idempotent:
# the outputs are rebuilt only if missing or older than this script or the
# kernel.
set -euo pipefail

SCRIPT="$(readlink -f "${BASH_SOURCE[0]}")"
. "$(dirname "$SCRIPT")/lib.sh"

DEBS="$CACHE/debs"
OUT="$CACHE/dom0"
VMLINUZ="$OUT/vmlinuz"
INITRD_XL="$OUT/initrd-xl.gz"
GUEST_INITRD="$OUT/guest-initrd.gz"
BUSYBOX=/bin/busybox

# Binary packages of the Xen source package, all at exactly $XEN_DEB_VERSION.
XEN_PKGS=(xen-utils-4.17 xen-utils-common xenstore-utils libxenmisc4.17 libxencall1
          libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 libxengnttab1
          libxenhypfs1 libxenstore4 libxentoolcore1 libxentoollog1)
# Other libraries the tools need (DT_NEEDED, found with readelf -d), at
# whatever version apt offers: Debian keeps their ABI within a release.
# libgcc_s is dlopen()ed by glibc for pthread_cancel, so no DT_NEEDED names
# it; xenconsoled and xl cancel threads.
LIB_PKGS=(libc6 libgcc-s1 liblzma5 libuuid1 libyajl2 zlib1g libzstd1)

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
# they all go to /lib/x86_64-linux-gnu, which Debian's ld.so searches
# without an ld.so.cache.
LIB_DIRS=(lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu
          usr/lib/xen-4.17/lib/x86_64-linux-gnu)

fresh() {
    [ -e "$1" ] && [ "$1" -nt "$SCRIPT" ] && [ "$1" -nt "$VMLINUZ" ]
}

# Print the path of package $1's .deb in $DEBS, downloading it first if
# needed.  $2, if given, is the exact version wanted.
deb_of() {
    local pkg=$1 version=${2:-} pattern deb
    # .deb names spell the epoch's colon as %3a; no version here has one.
    pattern="$DEBS/${pkg}_${version:-*}_amd64.deb"
    # shellcheck disable=SC2086  # $pattern is a glob on purpose
    deb="$(ls -t $pattern 2>/dev/null | head -n1 || true)"
    if [ -z "$deb" ]; then
        mkdir -p "$DEBS"
        # Into $DEBS; as root, apt's _apt sandbox user could not write there.
        (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root \
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
# $1 to root $2's /lib/x86_64-linux-gnu.
copy_libs() {
    local stage=$1 root=$2 lib src
    for lib in $(readelf -d "$3" |
                 sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p'); do
        [ ! -e "$root/lib/x86_64-linux-gnu/$lib" ] || continue
        src="$(find_lib "$stage" "$lib")"
        cp -L "$src" "$root/lib/x86_64-linux-gnu/$lib"
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
    # Marker lines: keep them in sync with tests/system/test_xl.py.
    cat > "$root/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mode=idle
name=guest
for arg in $(cat /proc/cmdline); do
    case $arg in
        xnr_mode=*) mode=${arg#*=} ;;
        xnr_name=*) name=${arg#*=} ;;
    esac
done
n=$(nproc)
echo "XEN-NULL-RS: guest $name up nproc=$n mode=$mode"
# Pinned with taskset, so every vCPU gets its share whatever Linux's load
# balancer thinks.
case $mode in
    busy)
        for cpu in $(seq 0 $((n - 1))); do
            taskset -c "$cpu" sh -c 'while :; do :; done' &
        done ;;
    pingpong)
        for cpu in $(seq 0 $((n - 1))); do
            for _ in 1 2; do
                taskset -c "$cpu" sh -c 'while :; do usleep 200; done' &
            done
        done ;;
    idle) ;;
    *) echo "XEN-NULL-RS: guest $name: unknown xnr_mode=$mode" ;;
esac
# udev's part in vCPU hotplug: `xl vcpu-set` up only makes the CPU present
# in the guest (drivers/xen/cpu_hotplug.c); onlining it is userspace's job.
while :; do
    for f in /sys/devices/system/cpu/cpu[0-9]*/online; do
        [ "$(cat "$f" 2>/dev/null)" = 0 ] && echo 1 > "$f" 2>/dev/null
    done
    sleep 1
done
INIT
    chmod 755 "$root/init"
    make_cpio "$root" "$GUEST_INITRD"
}

build_dom0_initrd() {
    local root stage mod ko kdir cmd
    root="$(busybox_root)"
    stage="$(mktemp -d)"
    unpack_packages "$stage"

    mkdir -p "$root"/{run,var,tmp,etc/xen,guest,lib64}
    mkdir -p "$root/lib/x86_64-linux-gnu" "$root/lib/modules/xen"

    # glibc: the dynamic loader where the binaries' PT_INTERP says, and
    # libgcc_s, which glibc loads by name (see LIB_PKGS).
    cp -L "$stage/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$root/lib/x86_64-linux-gnu/"
    ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$root/lib64/ld-linux-x86-64.so.2"
    cp -L "$(find_lib "$stage" libgcc_s.so.1)" "$root/lib/x86_64-linux-gnu/"
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
    cat > "$root/etc/xen/xl.conf" <<'EOF'
# xl's defaults, except: dom0 has a fixed dom0_mem=, never balloon it.
autoballoon="off"
EOF

    # The guest kernel as a plain ELF: from the bzImage, xl would unpack
    # the xz payload in dom0 on every `xl create`, which under TCG took
    # ~19 s per guest; the ELF loads in ~4-9 s (measured on this machine).
    extract_vmlinux "$VMLINUZ" "$root/guest/vmlinux"
    cp "$GUEST_INITRD" "$root/guest/initrd.gz"
    cat > "$root/guest/pv.cfg" <<'EOF'
# The scenario tests' PV guest; xnr-guest overrides name, vcpus and extra.
# memory: Debian's kernel needs 0x3a00 pages unpacked, so xl refuses 72 MB;
# with 80 MB it panics out of memory while booting; 88 MB boots.
type = "pv"
name = "guest"
kernel = "/guest/vmlinux"
ramdisk = "/guest/initrd.gz"
memory = 96
vcpus = 1
extra = "console=hvc0 quiet xnr_mode=idle"
on_crash = "preserve"
EOF

    cat > "$root/bin/xnr-guest" <<'EOF'
#!/bin/sh
# xnr-guest NAME MODE VCPUS [KEY=VALUE...]: xl create a test guest.
[ $# -ge 3 ] || { echo "usage: xnr-guest NAME MODE VCPUS [KEY=VALUE...]" >&2; exit 2; }
name=$1 mode=$2 vcpus=$3
shift 3
# xenconsoled appends to the log of a name used before: without this,
# xnr-wait would find an earlier guest's "up" line and return at once.
rm -f "/var/log/xen/console/guest-$name.log"
exec xl create /guest/pv.cfg "name=\"$name\"" "vcpus=$vcpus" \
    "extra=\"console=hvc0 quiet xnr_mode=$mode xnr_name=$name\"" "$@"
EOF
    cat > "$root/bin/xnr-wait" <<'EOF'
#!/bin/sh
# xnr-wait NAME [SECONDS]: wait for guest NAME's "up" line in its console
# log; print it, or fail after SECONDS (default 120).
log=/var/log/xen/console/guest-$1.log
left=${2:-120}
while ! grep -m1 "XEN-NULL-RS: guest $1 up" "$log" 2>/dev/null; do
    [ "$left" -gt 0 ] || { echo "xnr-wait: no guest $1 after ${2:-120} s" >&2; exit 1; }
    left=$((left - 1))
    sleep 1
done
EOF
    chmod 755 "$root/bin/xnr-guest" "$root/bin/xnr-wait"

    write_dom0_init "$root/init"
    make_cpio "$root" "$INITRD_XL"
    rm -rf "$stage"
}

# extract_vmlinux BZIMAGE OUT: the kernel ELF inside a bzImage (the first
# xz, zstd or gzip stream that decompresses to an ELF), like Linux's
# scripts/extract-vmlinux.
extract_vmlinux() {
    python3 - "$1" "$2" <<'PY'
import gzip, lzma, sys, zlib
data = open(sys.argv[1], "rb").read()
def xz(b):
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(b)
def gz(b):
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(b)
for magic, unpack in ((b"\xfd7zXZ\x00", xz), (b"\x1f\x8b\x08", gz)):
    at = data.find(magic)
    while at >= 0:
        try:
            out = unpack(data[at:])
        except (lzma.LZMAError, zlib.error):
            out = b""
        if out.startswith(b"\x7fELF"):
            open(sys.argv[2], "wb").write(out)
            sys.exit(0)
        at = data.find(magic, at + 1)
sys.exit(f"no ELF kernel found in {sys.argv[1]}")
PY
}

# Write the dom0 /init to $1.
write_dom0_init() {
    # Markers: keep them in sync with tests/system/test_xl.py.
    {
        echo '#!/bin/sh'
        echo "MODULES=\"${MODULES[*]}\""
        cat <<'INIT'
/bin/busybox --install -s /bin
export PATH=/usr/lib/xen-4.17/bin:/usr/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
echo "XEN-NULL-RS: dom0 init reached"
echo "XEN-NULL-RS: nproc=$(nproc) cpuinfo_processors=$(grep -c '^processor' /proc/cpuinfo)"

# Give up on the toolstack but keep the shell, so a test sees why.
failed() {
    echo "XEN-NULL-RS: toolstack failed: $*"
    exec setsid cttyhack sh
}

mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var
ln -s /run /var/run
mkdir -p /run/xen /run/xenstored /var/lib/xen /var/lib/xenstored \
    /var/log/xen/console /var/lock
# Kernel messages on the console would land inside command output.
dmesg -n 1

for m in $MODULES; do
    insmod /lib/modules/xen/$m.ko || failed "insmod $m"
done
mount -t xenfs xenfs /proc/xen || failed "mount xenfs"
# Both daemonize once they are ready to serve.
xenstored --pid-file=/run/xenstored.pid || failed xenstored
xen-init-dom0 || failed xen-init-dom0
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest \
    --log-dir=/var/log/xen/console || failed xenconsoled

# The console is for a program (XenQemu.sh): no echo of what it types, so
# only the shell's own output comes back.  Before the marker: a test types
# as soon as it sees it.  cttyhack opens the real tty (hvc0) so that the
# shell gets a controlling terminal and CTRL-c works.
stty -echo
echo "XEN-NULL-RS: toolstack ready"
# The shell has been seen to end (status 0, as on EOF) right after an
# `xl destroy`, on both builds; init must not exit, so start another.
# XenQemu.sh_status() types a command again if the shell ended before
# starting it.
while :; do
    setsid cttyhack sh
    echo "XEN-NULL-RS: shell exited ($?), restarting"
done
INIT
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
