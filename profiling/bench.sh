#!/usr/bin/env bash
# Benchmark: builds if needed, runs 100k / 1M / full NYC for 30 simulated days (CPU, and GPU where present),
# then the full NYC study (all its days) for wall time and peak memory (civitas run prints both).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD:-$root/build}"
[ -x "$build/civitas_bench" ] || { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$build" -j"$(nproc)" >/dev/null; }
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== commit: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown), date: $(date -u +%Y-%m-%d)"
"$build/civitas_bench" "$root/models/covid/nyc2020.json" "${DAYS:-30}"
if [ "${FULL_RUN:-1}" = 1 ]; then
  echo; echo "== full NYC study (its own days), with HDF5 output (civitas run)"
  out="$(mktemp -d)"
  "$build/civitas" run "$root/models/covid/nyc2020.json" -o "$out/nyc2020.h5" --backend "${BACKEND:-cpu}" 2>&1 |
    grep -E "agents,|days in"
  rm -rf "$out"
fi
