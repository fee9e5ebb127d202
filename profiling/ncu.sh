#!/usr/bin/env bash
# Nsight Compute on the civitas kernels (k_attend, k_transmit_progress, the k_mix_* and k_sums_to_double kernels of
# community mixing, and cuBLAS's DGEMMs) of a few
# days of a full-NYC GPU run: memory throughput against peak, achieved occupancy, warp stalls.
# Usage: profiling/ncu.sh [SCALE] [STEPS]  -> $OUT/civitas.ncu-rep (or /tmp)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-/tmp}/civitas"
ncu --clock-control none --set full -k 'regex:k_(attend|transmit_progress|mix_|sums_)|gemm' --launch-skip 16 --launch-count 16 \
    -f -o "$out" "$root/${BUILD:-build-gpu}/civitas" run "$root/models/covid/nyc2020.json" --backend cuda \
    --scale "${1:-1}" --steps "${2:-5}" -o /tmp/ncu_run.h5 -q
ncu --import "$out.ncu-rep" --csv --page raw --metrics gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active > "$out.csv" || true
echo "report: $out.ncu-rep; summary: $out.csv"
