#!/usr/bin/env bash
# prepare-xen.sh FLAVOUR CONFIG DIR
#   FLAVOUR: rust | c     which null scheduler to build
#   CONFIG:  default | debug
# Copies the pristine Debian Xen source into DIR (if not there yet),
# applies xen-patches/ with patch -p1, links the Rust sources in as
# xen/common/sched/null-rust, and configures: defconfig + Kconfig.fragment
# (+ the C choice, + CONFIG_DEBUG=y), then olddefconfig. Verifies the result.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/.." && pwd)

flavour=${1:?flavour: rust|c}
config=${2:?config: default|debug}
dir=${3:?build directory}
case $flavour in rust|c) ;; *) die "flavour must be rust or c" ;; esac
case $config in default|debug) ;; *) die "config must be default or debug" ;; esac

src=$("$REPO/scripts/fetch-xen.sh")
stamp="$dir/.xen-null-rs-prepared"
patches_id=$(cat "$REPO"/xen-patches/*.patch | sha256sum | cut -c1-16)

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$patches_id" ]; then
    log "copying pristine Xen to $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -a "$src/." "$dir/"
    while read -r p; do
        [ -n "$p" ] || continue
        log "applying $p"
        patch -d "$dir" -p1 --quiet --forward < "$REPO/xen-patches/$p"
    done < "$REPO/xen-patches/series"
    echo "$patches_id" > "$stamp"
fi
ln -sfn "$REPO" "$dir/xen/common/sched/null-rust"

cfg="$dir/xen/.config"
cfg_id=$(printf '%s %s\n' "$flavour" "$config" | cat - "$REPO/Kconfig.fragment" | sha256sum | cut -c1-16)
# Reconfigure only when the wanted configuration changed: a rewritten
# .config makes Xen rebuild everything.
if [ ! -f "$cfg" ] || [ "$(cat "$dir/.xen-null-rs-config" 2>/dev/null)" != "$cfg_id" ]; then
    make -s -C "$dir/xen" defconfig >/dev/null
    cat "$REPO/Kconfig.fragment" >> "$cfg"
    if [ "$flavour" = c ]; then
        printf '# CONFIG_SCHED_NULL_RUST is not set\nCONFIG_SCHED_NULL_C=y\n' >> "$cfg"
    fi
    if [ "$config" = debug ]; then
        echo 'CONFIG_DEBUG=y' >> "$cfg"
    fi
    make -s -C "$dir/xen" olddefconfig >/dev/null
    echo "$cfg_id" > "$dir/.xen-null-rs-config"
fi

want() { grep -qx "$1" "$cfg" || die "$cfg lacks $1 after olddefconfig"; }
want CONFIG_SCHED_NULL=y
if [ "$flavour" = rust ]; then want CONFIG_SCHED_NULL_RUST=y; else want CONFIG_SCHED_NULL_C=y; fi
if [ "$config" = debug ]; then want CONFIG_DEBUG=y; fi
log "configured $dir ($flavour, $config)"
