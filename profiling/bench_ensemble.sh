#!/usr/bin/env bash
# Ensemble throughput: runs per hour of the full-NYC study (CPU backend), and how an ensemble's throughput
# scales with MPI ranks on one machine (same total cores: ranks x threads). Usage: profiling/bench_ensemble.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
b="${BUILD:-$root/build}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
tmp="$(mktemp -d)"
cores=$(nproc)
echo "== $(nproc) cores; commit $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown); $(date -u +%Y-%m-%d)"
echo "== full NYC, 120 days, one run (synthesis + simulation + output)"
/usr/bin/time -f "%e" -o "$tmp/t" "$b/civitas" run "$root/models/covid/nyc2020.json" -o "$tmp/full.h5" -q
t=$(cat "$tmp/t"); echo "wall ${t}s -> $(awk -v t="$t" 'BEGIN{printf "%.0f", 3600/t}') runs/hour"
runs=${RUNS:-8}
echo "== ensemble: nyc2020 x $runs seeds at scale ${SCALE:-0.05}, 120 days"
for ranks in 1 2; do
  threads=$(( cores / ranks )); [ "$threads" -ge 1 ] || threads=1
  launcher=(); [ "$ranks" -gt 1 ] && launcher=(mpirun -np "$ranks")
  /usr/bin/time -f "%e" -o "$tmp/t" "${launcher[@]}" "$b/civitas" ensemble "$root/models/covid/nyc2020.json" \
      --seeds "$runs" --scale "${SCALE:-0.05}" --threads "$threads" -o "$tmp/e$ranks.h5" -q
  t=$(cat "$tmp/t"); echo "$ranks rank(s) x $threads thread(s): ${t}s, $(awk -v t="$t" -v n="$runs" 'BEGIN{printf "%.0f", 3600*n/t}') runs/hour"
done
rm -rf "$tmp"
