#!/usr/bin/env bash
# On the GPU machine, after profiling/gpu_session.sh has built build-gpu/: the owed GPU checks in one go.
#   1. CPU-vs-GPU parity (tests/test_gpu_parity.c: 4 small studies/seeds and 1M agents, community
#      pressure and series every day, final agent state), then whole `civitas run` files (the
#      pipelined launch/write loop, snapshots, tables) compared dataset by dataset
#   2. compute-sanitizer memcheck, racecheck and synccheck on a small study
#   3. the benchmark (CPU and GPU rows, copy baselines)
#   4. a full-NYC run on the GPU with output, for wall time
# Output: $OUT/gpu_checks.log (and stdout).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
B="${BUILD:-build-gpu}"
log="${OUT:-/tmp}/gpu_checks.log"
small=(run models/covid/nyc2020.json --backend cuda --scale 0.002 --steps 10 -q)
{
  echo "== commit $(git describe --always --dirty 2>/dev/null || echo unknown), $(date -u +%Y-%m-%dT%H:%MZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
  "$B/civitas" version
  echo "== parity";       "$B/tests/test_gpu_parity"; echo "rc=$?"
  echo "== run-file parity (scale 0.05, 120 days, CPU vs GPU)"
  "$B/civitas" run models/covid/nyc2020.json --scale 0.05 --backend cpu -o /tmp/par_cpu.h5 -q &&
    "$B/civitas" run models/covid/nyc2020.json --scale 0.05 --backend cuda -o /tmp/par_gpu.h5 -q &&
    python3 profiling/compare_runs.py /tmp/par_cpu.h5 /tmp/par_gpu.h5; echo "rc=$?"
  echo "== memcheck";     compute-sanitizer --tool memcheck --error-exitcode 9 "$B/civitas" "${small[@]}" -o /tmp/ms.h5; echo "rc=$?"
  echo "== racecheck";    compute-sanitizer --tool racecheck --error-exitcode 9 "$B/civitas" "${small[@]}" -o /tmp/rs.h5; echo "rc=$?"
  echo "== synccheck";    compute-sanitizer --tool synccheck --error-exitcode 9 "$B/civitas" "${small[@]}" -o /tmp/ss.h5; echo "rc=$?"
  echo "== benchmark";    "$B/civitas_bench" models/covid/nyc2020.json "${DAYS:-30}"
  echo "== full NYC on the GPU, 120 days with output"
  /usr/bin/time -f "wall %e s, peak RSS %M kB" "$B/civitas" run models/covid/nyc2020.json --backend cuda -o /tmp/nyc_gpu.h5 2>&1 | tail -3
} 2>&1 | tee "$log"
