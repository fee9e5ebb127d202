#!/usr/bin/env bash
# Nsight Systems timeline of a GPU run with the civitas NVTX ranges (domain "civitas": launch day,
# attend, community mixing (cuBLAS), transmit and progress, wait for day, write day (HDF5), decision
# table refresh, table upload, stage to device).
# Usage: profiling/nsys.sh [SCALE] [STEPS]   -> $OUT/civitas.nsys-rep (or /tmp)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-/tmp}/civitas"
# Nsight Systems proper: the nsys inside an Nsight Compute install records a .qdstrm but cannot turn it
# into a report, so it is not used
NSYS="${NSYS:-$(command -v nsys || true)}"
[ -n "$NSYS" ] || { echo "nsys.sh: Nsight Systems (nsys) is not on the PATH; set NSYS=/path/to/nsys" >&2; exit 2; }
"$NSYS" profile --trace=cuda,nvtx,osrt,cublas --force-overwrite=true -o "$out" \
  "$root/${BUILD:-build-gpu}/civitas" run "$root/models/covid/nyc2020.json" --backend cuda \
  --scale "${1:-1}" --steps "${2:-20}" -o /tmp/nsys_run.h5 -q
"$NSYS" stats --report cuda_gpu_kern_sum,nvtx_sum --format csv "$out.nsys-rep" > "$out.csv" || true
echo "timeline: $out.nsys-rep; kernel and NVTX summaries: $out.csv"
