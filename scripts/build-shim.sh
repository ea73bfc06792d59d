#!/usr/bin/env bash
# build-shim.sh FLAVOUR
# Builds the PV shim (pvshim_defconfig: CONFIG_PV_SHIM_EXCLUSIVE, whose only
# and default scheduler is null) the way Xen's tools/firmware/xen-dir
# builds it, and Debian's packaging with it: a link farm of the xen/ tree
# of $CACHE/build/FLAVOUR-default, after that tree's own hypervisor was
# built (build-xen.sh FLAVOUR default), so the main build's outputs are
# there to be (wrongly) linked. Prints the shim's xen/ directory.
# FLAVOUR c switches the shim's .config to null.c before building.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${1:?flavour: rust|c}
case $flavour in rust|c) ;; *) die "flavour must be rust or c" ;; esac
tree="$CACHE/build/$flavour-default"
[ -x "$tree/xen/xen-syms" ] || die "build the main hypervisor first: scripts/build-xen.sh $flavour default"
xendir="$tree/tools/firmware/xen-dir"
shim="$xendir/xen-root/xen"
use_ccache

log "building the PV shim ($flavour) in $xendir"
start=$(date +%s)
{
    # The link farm and pvshim_defconfig, as xen-dir's Makefile makes them.
    make -C "$xendir" xen-root/xen/.config
    if [ "$flavour" = c ] && ! grep -qx CONFIG_SCHED_NULL_C=y "$shim/.config"; then
        printf '# CONFIG_SCHED_NULL_RUST is not set\nCONFIG_SCHED_NULL_C=y\n' >> "$shim/.config"
        make -C "$shim" olddefconfig
    fi
    # xen-dir's xen-shim target depends on the shim's .config only, and
    # its link farm leaves our Rust sources out, so a second run would
    # keep a Rust object built from older sources: run its recipe's
    # `make build` in the shim's tree ourselves, where kbuild asks cargo
    # every time, then let xen-dir make its links.
    make -C "$shim" -j"$(nproc)" build
    make -C "$xendir" -j"$(nproc)"
} > "$xendir.log" 2>&1 || { tail -n 60 "$xendir.log" >&2; die "shim build failed ($flavour); log: $xendir.log"; }

cfg="$shim/.config"
for want in CONFIG_PV_SHIM_EXCLUSIVE=y CONFIG_SCHED_NULL=y CONFIG_SCHED_NULL_DEFAULT=y \
            "CONFIG_SCHED_NULL_$( [ "$flavour" = rust ] && echo RUST || echo C )=y" \
            "# CONFIG_TRACEBUFFER is not set"; do
    grep -qx "$want" "$cfg" || die "shim .config lacks '$want'"
done
# The link farm must not have taken the main build's cargo output.
links=$(find "$shim/common/sched" -path '*null-rust*' -type l | head -n 3)
[ -z "$links" ] || die "the shim's link farm links the main build's Rust output: $links"
log "shim built in $(( $(date +%s) - start )) s: $xendir/xen-shim"
echo "$shim"
