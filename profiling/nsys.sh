#!/usr/bin/env bash
# Nsight Systems timeline of a GPU run with the civitas NVTX ranges (domain "civitas": launch day,
# attend, community mixing (cuBLAS), transmit and progress, wait for day, write day (HDF5), decision
# table refresh, table upload, stage to device).
# Usage: profiling/nsys.sh [SCALE] [STEPS]   -> $OUT/civitas.nsys-rep (or /tmp)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-/tmp}/civitas"
NSYS="${NSYS:-$(command -v nsys || ls /opt/nvidia/nsight-compute/*/host/target-linux-x64/nsys 2>/dev/null | head -1)}"
"$NSYS" profile --trace=cuda,nvtx,osrt,cublas --force-overwrite=true -o "$out" \
  "$root/${BUILD:-build-gpu}/civitas" run "$root/models/covid/nyc2020.json" --backend cuda \
  --scale "${1:-1}" --steps "${2:-20}" -o /tmp/nsys_run.h5 -q
"$NSYS" stats --report cuda_gpu_kern_sum,nvtx_sum --format csv "$out.nsys-rep" > "$out.csv" || true
echo "timeline: $out.nsys-rep; kernel and NVTX summaries: $out.csv"
