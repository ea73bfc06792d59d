#!/usr/bin/env python3
"""Compare the placements two builds recorded in test_xl.py.

    compare_placements.py RUST.json C.json

Each file maps scenario -> observation -> {unit: pCPU} (units named by
creation order, so two boots compare). Exits non-zero and prints every
difference if the Rust build placed a unit differently from null.c, or if
one side lacks an observation the other made (a scenario that failed
before reaching it).
"""

import json
import sys


def main(rust_path, c_path):
    with open(rust_path) as f:
        rust = json.load(f)
    with open(c_path) as f:
        c = json.load(f)
    diffs = []
    for scenario in sorted(set(rust) | set(c)):
        r, k = rust.get(scenario, {}), c.get(scenario, {})
        for key in sorted(set(r) | set(k)):
            if r.get(key) != k.get(key):
                diffs.append(f"{scenario} / {key}: rust {r.get(key)} "
                             f"vs c {k.get(key)}")
    n = sum(len(v) for v in rust.values())
    if not n:
        diffs.append("no observations recorded")
    for d in diffs:
        print(d)
    print(f"placements: {n} observations, {len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
