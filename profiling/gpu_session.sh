#!/usr/bin/env bash
# Run ON THE GPU MACHINE (device tool, carry [".deps"]), after profiling/gpu_fetch_deps.sh here:
#   bash profiling/gpu_session.sh "bash profiling/gpu_checks.sh"
# 1. preflight: what the machine has (tools, runtime, kernel, driver), printed before anything can fail
# 2. unpacks the carried Debian 12 .deb files into a prefix (never into /)
# 3. configures against that prefix alone (no pkg-config, no -dev packages needed) and builds with CUDA;
#    the programs find the prefix's libraries through their RPATH: no global LD_LIBRARY_PATH, so the
#    machine's own tools (python3 and h5py, compute-sanitizer, nvidia-smi) keep their libraries
# 4. a first GPU run with CIVITAS_CUDA_SYNC=1 (a failing kernel is named), then each COMMAND given
# 5. the CPU unit tests, last: a failing CPU test never keeps a GPU check from running
# Every step is time-limited and logged under $OUT as it runs (session.log, summary.txt, figures.txt);
# the whole session stops starting steps after CIVITAS_GPU_BUDGET_S seconds (default 480).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=profiling/gpu_steps.sh
. profiling/gpu_steps.sh
t_start=$(date +%s)
P="${CIVITAS_DEPS_DIR:-/tmp/civdeps}"
B="${BUILD:-build-gpu}"
export BUILD="$B"
export PATH="/usr/local/cuda/bin:$PATH"
: >"$CIV_SUMMARY"
: >"$CIV_FIGURES"

preflight() {
    echo "date        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit      ${CIVITAS_COMMIT:-$(git describe --always --dirty 2>/dev/null || echo unknown)}"
    echo "kernel      $(uname -r) ($(uname -m))"
    local k runtime=unknown
    k=$(uname -r)
    case "$k" in
        4.4.0*) runtime="gVisor (compute-sanitizer and ncu are known to refuse the device there)" ;;
        *-fc-*) runtime="Firecracker" ;;
    esac
    echo "runtime     $runtime"
    echo "cpus        $(nproc), disk free $(df -h /tmp | awk 'NR==2 {print $4}')"
    local t p
    for t in pkg-config cmake g++ gcc make ninja nvcc dpkg python3 compute-sanitizer ncu nsys nvidia-smi timeout; do
        p=$(civ_tool "$t")
        printf '  %-18s %s\n' "$t" "${p:-MISSING}"
    done
    python3 -c 'import h5py, numpy; print("  python3 h5py", h5py.__version__, "numpy", numpy.__version__)' 2>/dev/null ||
        echo "  python3 h5py/numpy MISSING (run-file comparison will fail)"
    nvcc --version 2>/dev/null | tail -1
    ls /usr/local/cuda/lib64/libcublas.so* 2>/dev/null | head -3 || echo "  no libcublas in /usr/local/cuda/lib64"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1 | head -5
    ls .deps/*.deb >/dev/null 2>&1 && echo "carried     $(ls .deps/*.deb | wc -l) .deb files" || echo "carried     NO .deps/*.deb (run profiling/gpu_fetch_deps.sh here and carry .deps)"
}

unpack() {
    mkdir -p "$P"
    local f n=0
    for f in .deps/*.deb; do
        if command -v dpkg >/dev/null; then dpkg -x "$f" "$P" || return 1
        else python3 profiling/unpack_deb.py "$f" "$P" || return 1; fi
        n=$((n + 1))
    done
    echo "unpacked $n packages into $P ($(command -v dpkg >/dev/null && echo dpkg || echo python3))"
    [ "$n" -gt 0 ]
}

configure() {
    local gen=()
    command -v make >/dev/null || gen=(-G Ninja)
    cmake -S . -B "$B" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCIVITAS_DEPS_PREFIX="$P" \
          -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON || return 1
    grep -q '^CMAKE_CUDA_COMPILER:[A-Z]*=/' "$B/CMakeCache.txt" || { echo "configured WITHOUT CUDA (nvcc not found)"; return 1; }
}

export P B
export -f unpack configure civ_tool
civ_note "== preflight"
preflight 2>&1 | tee -a "$CIV_LOG"
civ_step unpack 60 unpack
civ_step configure 120 configure
# the programs the GPU checks need first; the unit tests' binaries after
civ_step build 300 cmake --build "$B" -j"$(nproc)" --target civitas civitas_bench test_gpu_parity
civ_step version 30 "$B/civitas" version
civ_step "first GPU run (sync)" 60 env CIVITAS_CUDA_SYNC=1 "$B/civitas" run models/covid/nyc2020.json \
    --backend cuda --scale 0.002 --steps 5 -o /tmp/civitas_first.h5 -q
for cmd in "$@"; do
    civ_note "== $cmd"
    # the command runs its own time-limited steps against the same deadline
    eval "$cmd"
done
civ_step "build unit tests" 120 cmake --build "$B" -j"$(nproc)"
civ_step "CPU unit tests" 120 ctest --test-dir "$B" --output-on-failure --no-tests=error -R 'test_(philox|population|engine|mixing|answer_cache)'
civ_note ""
civ_note "== summary ($(($(date +%s) - t_start)) s; log: $CIV_LOG)"
cat "$CIV_SUMMARY"
civ_note "== figures"
cat "$CIV_FIGURES"
