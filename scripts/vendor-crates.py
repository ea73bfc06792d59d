#!/usr/bin/env python3
"""vendor-crates.py REPO FULL_VENDOR OUT: the crates the hypervisor build needs.

cargo resolves the whole lock graph of what it builds, optional and
other-platform dependencies included, but not the workspace members'
dev-dependencies when told `-Z avoid-dev-deps` (debian/rules does). So the
offline set is: from each workspace member's [dependencies] and
[build-dependencies] (any target), every package Cargo.lock reaches.

FULL_VENDOR is the output of `cargo vendor --versioned-dirs` for the whole
lock file; the needed crates are copied to OUT, minus files a Debian source
must not carry or keep: `Cargo.toml.orig` (dh_clean deletes `*.orig`) and
prebuilt Windows binaries (libloading's test DLLs; lintian's
source-contains-prebuilt-windows-binary). They leave `.cargo-checksum.json`
too, whose other entries cargo still checks. Prints how many crates.
"""

import json
import shutil
import sys
import tomllib
from pathlib import Path


def lock_key(dep, by_name):
    """A Cargo.lock dependency entry ("name" or "name version [(source)]")."""
    parts = dep.split()
    if len(parts) == 1:
        (pkg,) = by_name[parts[0]]
        return pkg
    return (parts[0], parts[1])


def needed(repo):
    lock = tomllib.loads((repo / "Cargo.lock").read_text())
    by_name = {}
    for p in lock["package"]:
        by_name.setdefault(p["name"], []).append((p["name"], p["version"]))
    deps = {(p["name"], p["version"]): p.get("dependencies", [])
            for p in lock["package"]}
    workspace = tomllib.loads((repo / "Cargo.toml").read_text())["workspace"]
    members = {}
    for m in workspace["members"]:
        manifest = tomllib.loads((repo / m / "Cargo.toml").read_text())
        members[manifest["package"]["name"]] = manifest
    todo = []
    for manifest in members.values():
        tables = [manifest]
        tables += manifest.get("target", {}).values()
        for t in tables:
            for kind in ("dependencies", "build-dependencies"):
                for name, spec in t.get(kind, {}).items():
                    if isinstance(spec, dict):
                        name = spec.get("package", name)
                    if name not in members:
                        todo.append(lock_key(name, by_name))
    seen = set()
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        todo += [lock_key(d, by_name) for d in deps[pkg]]
    return sorted(seen)


def main():
    repo, full, out = (Path(a) for a in sys.argv[1:4])
    out.mkdir(parents=True)
    for name, version in needed(repo):
        src = full / f"{name}-{version}"
        if not src.is_dir():
            sys.exit(f"vendor-crates: {src} missing: was it vendored from this Cargo.lock?")
        dst = out / src.name
        shutil.copytree(src, dst, symlinks=True)
        sums = json.loads((dst / ".cargo-checksum.json").read_text())
        drop = [f for f in sums["files"]
                if f == "Cargo.toml.orig" or f.lower().endswith((".dll", ".exe"))]
        for f in drop:
            (dst / f).unlink()
            del sums["files"][f]
        (dst / ".cargo-checksum.json").write_text(json.dumps(sums))
    print(len(list(out.iterdir())))


if __name__ == "__main__":
    main()
