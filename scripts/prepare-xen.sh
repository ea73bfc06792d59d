#!/usr/bin/env bash
# prepare-xen.sh FLAVOUR CONFIG DIR
#   FLAVOUR: rust | c     which null scheduler to build
#   CONFIG:  a fragment tests/configs/CONFIG.config (default, debug, ...)
# Copies the pristine Debian Xen source into DIR (if not there yet),
# applies xen-patches/ with patch -p1, links the Rust sources in as
# xen/common/sched/null-rust, and configures: defconfig + Kconfig.fragment
# + the fragment (+ the C choice), then olddefconfig. Verifies that every
# option the fragment sets survived olddefconfig.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/.." && pwd)

flavour=${1:?flavour: rust|c}
config=${2:?config: a name in tests/configs (default, debug, ...)}
dir=${3:?build directory}
case $flavour in rust|c) ;; *) die "flavour must be rust or c" ;; esac
fragment="$REPO/tests/configs/$config.config"
[ -f "$fragment" ] || die "no configuration '$config': tests/configs has $(cd "$REPO/tests/configs" && ls ./*.config | sed 's|^./||; s|\.config$||' | tr '\n' ' ')"

src=$("$REPO/scripts/fetch-xen.sh")
# The stamp lists the patches applied to DIR, one "NAME SHA256" line each,
# in series order. A series that only grew (a patch appended) is brought up
# to date by applying the new patches: make then rebuilds only what they
# touch, where a fresh copy would rebuild every object. Anything else (a
# patch changed, removed or reordered) starts again from a pristine copy.
stamp="$dir/.xen-null-rs-prepared"
wanted=$(while read -r p; do
             [ -n "$p" ] || continue
             printf '%s %s\n' "$p" "$(sha256sum < "$REPO/xen-patches/$p" | cut -c1-64)"
         done < "$REPO/xen-patches/series")
applied=
if [ -f "$stamp" ]; then
    applied=$(cat "$stamp")
    # Stamps written before the list format hold one 16-digit hash of all
    # patches (in name order, which is series order): the prefix of the
    # series it names was applied.
    if printf '%s\n' "$applied" | grep -qx '[0-9a-f]\{16\}'; then
        legacy=$applied applied=
        prefix=()
        while read -r p _; do
            prefix+=("$REPO/xen-patches/$p")
            if [ "$(cat "${prefix[@]}" | sha256sum | cut -c1-16)" = "$legacy" ]; then
                applied=$(printf '%s\n' "$wanted" | head -n "${#prefix[@]}")
            fi
        done <<< "$wanted"
    fi
fi
if [ -z "$applied" ] || [ "$(printf '%s\n' "$wanted" | head -n "$(printf '%s\n' "$applied" | wc -l)")" != "$applied" ]; then
    log "copying pristine Xen to $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -a "$src/." "$dir/"
    applied=
fi
n=0
[ -z "$applied" ] || n=$(printf '%s\n' "$applied" | wc -l)
if [ "$n" -eq 0 ]; then : > "$stamp"; else printf '%s\n' "$applied" > "$stamp"; fi
while read -r p sum; do
    log "applying $p"
    patch -d "$dir" -p1 --quiet --forward < "$REPO/xen-patches/$p"
    printf '%s %s\n' "$p" "$sum" >> "$stamp"
done < <(printf '%s\n' "$wanted" | tail -n +"$((n + 1))")
ln -sfn "$REPO" "$dir/xen/common/sched/null-rust"

cfg="$dir/xen/.config"
cfg_id=$(printf '%s %s\n' "$flavour" "$config" | cat - "$REPO/Kconfig.fragment" "$fragment" | sha256sum | cut -c1-16)
# Reconfigure only when the wanted configuration changed: a rewritten
# .config makes Xen rebuild everything.
if [ ! -f "$cfg" ] || [ "$(cat "$dir/.xen-null-rs-config" 2>/dev/null)" != "$cfg_id" ]; then
    make -s -C "$dir/xen" defconfig >/dev/null
    cat "$REPO/Kconfig.fragment" "$fragment" >> "$cfg"
    if [ "$flavour" = c ]; then
        printf '# CONFIG_SCHED_NULL_RUST is not set\nCONFIG_SCHED_NULL_C=y\n' >> "$cfg"
    fi
    make -s -C "$dir/xen" olddefconfig >/dev/null
    echo "$cfg_id" > "$dir/.xen-null-rs-config"
fi

want() { grep -qx "$1" "$cfg" || die "$cfg lacks $1 after olddefconfig"; }
unwanted() { ! grep -q "^$1=" "$cfg" || die "$cfg still sets $1 after olddefconfig"; }
want CONFIG_SCHED_NULL=y
if [ "$flavour" = rust ]; then want CONFIG_SCHED_NULL_RUST=y; else want CONFIG_SCHED_NULL_C=y; fi
while read -r line; do
    case $line in
        CONFIG_*=*) want "$line" ;;
        "# CONFIG_"*" is not set") opt=${line#\# }; unwanted "${opt%% *}" ;;
    esac
done < "$fragment"
log "configured $dir ($flavour, $config)"
