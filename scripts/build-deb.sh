#!/usr/bin/env bash
# build-deb.sh: Debian 12's Xen hypervisor package, with the Rust null
# scheduler built in (README "Install on Debian 12").
#
# Fetches Debian's source package xen=$XEN_DEB_VERSION, adds
#   - xen-patches/ to debian/patches (debian/patches/nullrs/, after Debian's),
#   - this repository (git HEAD) and the crates its hypervisor build needs
#     (scripts/vendor-crates.py) as a second orig tarball, orig-nullrs,
#   - packaging/debian.patch: the Rust build-dependencies, the build profile
#     pkg.xen.hvonly (the hypervisor packages only), the null scheduler in
#     debian/xen-kconfig, debian/rules building it with Debian's Rust offline,
#   - a changelog entry: version $XEN_DEB_VERSION+nullrs$NULLRS_REV,
# and builds the source package and, with the network cut off (unshare -n),
# xen-hypervisor-4.17-amd64 (+ -dbg) and xen-hypervisor-common with
# Debian's rustc-web/cargo-web, no rustup.
#
# The hypervisor packages only (profile pkg.xen.hvonly): the tools and
# their build-dependencies stay Debian's. Output: $CACHE/deb/out
# (the .debs, .changes, .dsc and tarballs); prints that directory.
# Cargo.lock's crates are fetched (cargo vendor) before the build, once per
# Cargo.lock, into $CACHE/deb.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/.." && pwd)

NULLRS_REV=${NULLRS_REV:-1}
[ $# -eq 0 ] || die "usage: build-deb.sh (no arguments; environment: XEN_NULL_CACHE, NULLRS_REV)"
profiles=pkg.xen.hvonly

upstream=${XEN_DEB_VERSION%-*}
version="$XEN_DEB_VERSION+nullrs$NULLRS_REV"
DEB="$CACHE/deb"
mkdir -p "$DEB/src"

# Debian's source package, as the archive serves it (.dsc and tarballs).
dsc="$DEB/src/xen_${XEN_DEB_VERSION}.dsc"
if [ ! -f "$dsc" ]; then
    ensure_deb_src
    ( cd "$DEB/src" && apt-get source --download-only -q "xen=$XEN_DEB_VERSION" >/dev/null ) ||
        die "apt-get source --download-only xen=$XEN_DEB_VERSION failed"
fi

# The crates: the whole lock file vendored once (network: the crates.io
# registry), then the hypervisor build's subset.
lock_id=$(sha256sum "$REPO/Cargo.lock" | cut -c1-16)
full="$DEB/vendor-all-$lock_id"
if [ ! -d "$full" ]; then
    log "cargo vendor (Cargo.lock $lock_id)"
    rm -rf "$full.tmp"
    ( cd "$REPO" && cargo vendor --locked --versioned-dirs "$full.tmp" >/dev/null ) ||
        die "cargo vendor failed"
    mv "$full.tmp" "$full"
fi

# Debian's tree, unpacked fresh (its patches applied).
work="$DEB/work"
rm -rf "$work" "$DEB/out"
mkdir -p "$work" "$DEB/out"
cp "$DEB/src/"xen_"$upstream".orig.tar.* "$DEB/src/"xen_"$XEN_DEB_VERSION".* "$work/"
src="$work/xen-$upstream"
dpkg-source --no-check -x "$work/xen_$XEN_DEB_VERSION.dsc" "$src" >/dev/null

# The second orig tarball: this repository at HEAD (committed files only)
# and the vendored crates, under nullrs/.
[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no)" ] ||
    log "warning: uncommitted changes in $REPO are not in the package (git HEAD is)"
mkdir "$src/nullrs"
git -C "$REPO" archive HEAD | tar -x -C "$src/nullrs"
crates=$(python3 "$REPO/scripts/vendor-crates.py" "$REPO" "$full" "$src/nullrs/vendor")
log "vendored $crates crates ($(du -sh "$src/nullrs/vendor" | cut -f1))"
tar -C "$src" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$(git -C "$REPO" log -1 --format=%ct)" -cJf \
    "$work/xen_$upstream.orig-nullrs.tar.xz" nullrs

# The packaging changes, our patches after Debian's, the changelog entry.
patch -d "$src" -p1 --quiet --no-backup-if-mismatch < "$REPO/packaging/debian.patch"
mkdir "$src/debian/patches/nullrs"
while read -r p; do
    [ -n "$p" ] || continue
    cp "$REPO/xen-patches/$p" "$src/debian/patches/nullrs/$p"
    echo "nullrs/$p" >> "$src/debian/patches/series"
done < "$REPO/xen-patches/series"
( cd "$src" && QUILT_PATCHES=debian/patches quilt push -a -q >/dev/null ) ||
    die "xen-patches/ do not apply on top of Debian's patches"
{
    printf 'xen (%s) bookworm; urgency=medium\n\n' "$version"
    cat "$REPO/packaging/changelog"
    printf '\n -- %s  %s\n\n' "${DEBFULLNAME:-xen-null-rs} <${DEBEMAIL:-xen-null-rs@localhost.invalid}>" \
        "$(date -R -d "@$(git -C "$REPO" log -1 --format=%ct)")"
    cat "$src/debian/changelog"
} > "$src/debian/changelog.new"
mv "$src/debian/changelog.new" "$src/debian/changelog"

# What building needs, said at once (dpkg-checkbuilddeps lists what is missing).
( cd "$src" && dpkg-checkbuilddeps ${profiles:+-P"$profiles"} ) ||
    die "install the build-dependencies above (scripts/setup-host.sh installs them), then run again"

# Source package, then the binaries without network: everything the build
# needs is in the tarballs and on the machine. Debian's Rust from PATH,
# whatever else is on it (a rustup cargo proxy would ask the network).
log "dpkg-buildpackage ($version${profiles:+, profile $profiles}), offline"
start=$(date +%s)
if ! ( cd "$src" && env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        DEB_BUILD_OPTIONS="parallel=$(nproc)" \
        unshare -n dpkg-buildpackage -us -uc ${profiles:+-P"$profiles"} \
        > "$DEB/build.log" 2>&1 ); then
    tail -n 60 "$DEB/build.log" >&2
    die "dpkg-buildpackage failed; log: $DEB/build.log"
fi
log "built in $(( $(date +%s) - start )) s"
mv "$work"/*_"$version"[._]* "$work"/xen_"$upstream".orig*.tar.* "$DEB/out/"
echo "$DEB/out"
