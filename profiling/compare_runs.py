#!/usr/bin/env python3
"""Compares two civitas run files dataset by dataset (values, not attributes):
exit 0 when every dataset under /timeseries, /llm and /agents is identical,
1 with the differing names otherwise. Used for CPU-vs-GPU parity of whole runs
(profiling/gpu_checks.sh). Usage: compare_runs.py A.h5 B.h5"""
import sys

import h5py
import numpy as np


def main(a_path, b_path):
    bad, n = [], 0
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        for attr in ("status", "steps_completed"):
            if a.attrs[attr] != b.attrs[attr]:
                bad.append(f"attribute {attr}: {a.attrs[attr]} vs {b.attrs[attr]}")

        def visit(name, obj):
            nonlocal n
            if not isinstance(obj, h5py.Dataset) or name.split("/")[0] not in ("timeseries", "llm", "agents"):
                return
            n += 1
            if name not in b:
                bad.append(f"{name}: missing in {b_path}")
                return
            x, y = obj[()], b[name][()]
            if x.shape != y.shape or not np.array_equal(x, y):
                bad.append(name)
        a.visititems(visit)
    if bad:
        print(f"DIFFERENT: {len(bad)} of {n} datasets: {', '.join(bad)}")
        return 1
    print(f"identical: {n} datasets")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
