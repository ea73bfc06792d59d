#!/usr/bin/env bash
# clippy-xen.sh BUILD_DIR: clippy -D warnings over the hypervisor-only code
# (cfg(xen): rust/xen, rust/sched, bindings) of a built tree, with the
# environment its make recorded in common/sched/.null-rust.env.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
envfile="${1:?build directory}/xen/common/sched/.null-rust.env"
[ -f "$envfile" ] || { echo "no $envfile: build the tree first" >&2; exit 1; }
# shellcheck disable=SC1090
. "$envfile"
export XEN_OBJTREE XEN_SRCTREE XEN_CC XEN_CFLAGS RUSTFLAGS
# shellcheck disable=SC2086
cargo $NULL_RUST_TOOLCHAIN clippy --quiet --release --locked $NULL_RUST_CARGO_FLAGS \
    --target "$NULL_RUST_TRIPLE" --manifest-path "$REPO/Cargo.toml" -p xen-null-sched \
    --target-dir "$XEN_OBJTREE/common/sched/.null-rust-clippy" -- -D warnings
