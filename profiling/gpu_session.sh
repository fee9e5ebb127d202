#!/usr/bin/env bash
# Run ON THE GPU MACHINE (device tool, with carry [".deps"]): unpacks the carried .deb files into a
# prefix (never into /), configures and builds civitas with CUDA for sm_90, runs the C tests, then
# whatever is passed as arguments (e.g. "build-gpu/civitas_bench"). Outputs go to $OUT if set.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
P=/tmp/civdeps
mkdir -p "$P"
for f in .deps/*.deb; do dpkg -x "$f" "$P"; done
export PKG_CONFIG_SYSROOT_DIR="$P"
export PKG_CONFIG_LIBDIR="$P/usr/lib/x86_64-linux-gnu/pkgconfig:$P/usr/share/pkgconfig"
export LD_LIBRARY_PATH="$P/usr/lib/x86_64-linux-gnu:$P/usr/lib/x86_64-linux-gnu/hdf5/serial:$P/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export PATH="/usr/local/cuda/bin:$PATH"
log="${OUT:-/tmp}/gpu_session.log"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
  ls /usr/local/cuda/lib64/libcublas.so* 2>/dev/null || echo "no libcublas in /usr/local/cuda/lib64"
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCIVITAS_DEPS_VIA_PKGCONFIG=ON \
        -DCMAKE_C_FLAGS="-isystem $P/usr/include" -DCMAKE_CUDA_FLAGS="-isystem $P/usr/include" \
        -DCMAKE_PREFIX_PATH="$P/usr"
  cmake --build build-gpu -j"$(nproc)"
  ctest --test-dir build-gpu --output-on-failure -R 'test_(philox|population|engine|mixing)'
  for cmd in "$@"; do echo "== $cmd"; eval "$cmd"; done
} 2>&1 | tee "$log"
