#!/usr/bin/env bash
# On the GPU machine, after profiling/gpu_session.sh has built $BUILD (default build-gpu): the GPU checks,
# most valuable first, each time-limited and logged as it runs (see gpu_steps.sh):
#   1. CPU-vs-GPU parity (tests/test_gpu_parity.c: small studies, 1M agents and the full city for 10 days;
#      community pressure and series every day, final agent state)
#   2. the benchmark (CPU and GPU rows, copy baselines): ms per simulated day, agent-days/s, bandwidth
#   3. a full-NYC run on the GPU with output (120 days), end to end
#   4. whole run files, CPU vs GPU (the pipelined launch/write loop, snapshots, tables)
#   5. compute-sanitizer memcheck, racecheck, synccheck, initcheck on a small study
#   6. Nsight Compute on one day's kernels
# compute-sanitizer and ncu refuse the device on some runtimes ("Device not supported" on gVisor): that
# is recorded as REFUSED with the runtime, not as a civitas failure.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=profiling/gpu_steps.sh
. profiling/gpu_steps.sh
B="${BUILD:-build-gpu}"
C="$B/civitas"
small=(run models/covid/nyc2020.json --backend cuda --scale 0.002 --steps 10 -q)

civ_step "GPU parity" 200 "$B/tests/test_gpu_parity"
civ_figures_from_last parity '^(ok|FAIL|device:|SKIPPED)' 

civ_step benchmark 150 "$B/civitas_bench" models/covid/nyc2020.json "${DAYS:-30}"
civ_figures_from_last bench '.' 

civ_step "full NYC on the GPU" 120 "$C" run models/covid/nyc2020.json --backend cuda -o /tmp/civitas_nyc_gpu.h5
civ_figures_from_last "full NYC GPU" 'days in|peak memory|wrote' 

runfiles() {
    "$C" run models/covid/nyc2020.json --scale 0.05 --backend cpu -o /tmp/civitas_par_cpu.h5 -q &&
        "$C" run models/covid/nyc2020.json --scale 0.05 --backend cuda -o /tmp/civitas_par_gpu.h5 -q &&
        python3 profiling/compare_runs.py /tmp/civitas_par_cpu.h5 /tmp/civitas_par_gpu.h5
}
export -f runfiles
export C
civ_step "run files CPU vs GPU" 120 runfiles && civ_figure "run files CPU vs GPU (scale 0.05, 120 days): identical"

san=$(civ_tool compute-sanitizer)
for tool in memcheck racecheck synccheck initcheck; do
    if [ -z "$san" ]; then civ_note "STEP sanitizer $tool: compute-sanitizer not found"; continue; fi
    civ_step "sanitizer $tool" 90 env CIVITAS_CUDA_SYNC=1 "$san" --tool "$tool" --error-exitcode 9 "$C" "${small[@]}" \
        -o "/tmp/civitas_$tool.h5"
    rc=$?
    if [ $rc -ne 0 ] && grep -q "Device not supported" "$CIV_LAST"; then
        civ_figure "sanitizer $tool: REFUSED by compute-sanitizer on this runtime ($(uname -r)): not a civitas result"
    else
        civ_figure "sanitizer $tool: rc=$rc"
    fi
done

ncu=$(civ_tool ncu)
if [ -n "$ncu" ]; then
    # the kernels of one day at full scale (skip the first two days' launches)
    civ_step "ncu one day" 150 "$ncu" --clock-control none --kernel-name regex:'^k_' --launch-skip 12 --launch-count 6 \
        --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats \
        "$C" run models/covid/nyc2020.json --backend cuda --steps 4 -o /tmp/civitas_ncu.h5 -q
    rc=$?
    if [ $rc -ne 0 ] && grep -qE "LibraryNotLoaded|not supported|ERR_NVGPUCTRPERM" "$CIV_LAST"; then
        civ_figure "ncu: REFUSED on this runtime ($(uname -r)): not a civitas result"
    else
        cp "$CIV_LAST" "$OUT/ncu.txt"
    fi
else
    civ_note "STEP ncu: not found"
fi
