#!/usr/bin/env bash
# Rehearses the GPU session here, before device time is spent on it: runs
#   bash profiling/gpu_session.sh "bash profiling/gpu_checks.sh"
# in a Debian 12 root filesystem that looks like the GPU machine's image where it matters: a compiler,
# CMake, python3 with h5py and numpy, the CUDA toolkit (bind-mounted read-only from /usr/local/cuda),
# a copy of the working tree as the device tool sends it (tracked and untracked-not-ignored files, plus
# the carried .deps/) and a clean environment (env -i); and no pkg-config, no GNU time, no -dev
# packages, no MPI, no GPU. It passes when unpacking, configuring, building and the CPU unit tests
# succeed and every GPU step fails or skips only for the lack of a device.
#
# Usage (as root; the first run builds the root filesystem with debootstrap, about 3 minutes):
#   bash profiling/gpu_rehearsal.sh [ROOTFS]        default /var/tmp/civitas-rehearsal/rootfs
# Exit status 0 when the rehearsal passes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
R="${1:-/var/tmp/civitas-rehearsal/rootfs}"
[ "$(id -u)" = 0 ] || { echo "gpu_rehearsal: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
[ -x /usr/local/cuda/bin/nvcc ] || { echo "gpu_rehearsal: no CUDA toolkit at /usr/local/cuda" >&2; exit 2; }

if [ ! -x "$R/usr/bin/cmake" ]; then
    echo "gpu_rehearsal: building a Debian 12 root filesystem in $R"
    mkdir -p "$R"
    debootstrap --variant=minbase --include=build-essential,cmake,python3,python3-h5py,python3-numpy \
        bookworm "$R" http://deb.debian.org/debian >"$R.debootstrap.log" 2>&1 ||
        { echo "gpu_rehearsal: debootstrap failed, see $R.debootstrap.log" >&2; exit 1; }
fi
# what the GPU image lacks must be absent here too, or the rehearsal proves nothing
for absent in usr/bin/pkg-config usr/bin/pkgconf usr/bin/time usr/include/hdf5 usr/include/cjson \
              usr/include/x86_64-linux-gnu/curl usr/include/cmocka.h usr/include/Random123 usr/bin/mpicc; do
    [ ! -e "$R/$absent" ] || { echo "gpu_rehearsal: $R has /$absent, which the GPU image lacks" >&2; exit 1; }
done

[ -d .deps ] && ls .deps/*.deb >/dev/null 2>&1 || bash profiling/gpu_fetch_deps.sh

# the tree as the device tool sends it
W="$R/work/civitas"
rm -rf "$W" "$R/out"
mkdir -p "$W" "$R/out" "$R/usr/local/cuda"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$W"
cp -r .deps "$W/.deps"
commit="$(git describe --always --dirty 2>/dev/null || echo unknown)"

cleanup() {
    umount "$R/usr/local/cuda" 2>/dev/null || true
    umount "$R/proc" 2>/dev/null || true
    umount "$R/dev" 2>/dev/null || true
}
trap cleanup EXIT
mount --bind -o ro /usr/local/cuda "$R/usr/local/cuda"
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"

echo "gpu_rehearsal: running the GPU session in $R (clean environment, no GPU)"
set +e
chroot "$R" env -i HOME=/root PATH=/usr/local/cuda/bin:/usr/bin:/bin OUT=/out CIVITAS_COMMIT="$commit" \
    CIVITAS_GPU_BUDGET_S="${CIVITAS_GPU_BUDGET_S:-900}" \
    bash -c 'cd /work/civitas && bash profiling/gpu_session.sh "bash profiling/gpu_checks.sh"'
set -e

# the verdict: the host-side steps pass, the GPU steps fail for lack of a device, with that reason
S="$R/out/summary.txt"
L="$R/out/session.log"
fail=0
expect() {   # expect STEP-NAME STATUS-REGEX
    if grep -E "^STEP $1 +$2 " "$S" >/dev/null; then echo "  ok    $1: $(grep -E "^STEP $1 " "$S" | awk '{print $(NF-1)}')"
    else echo "  WRONG $1: $(grep -E "^STEP $1 " "$S" || echo 'not run')"; fail=1; fi
}
echo "gpu_rehearsal: verdict"
expect unpack ok
expect configure ok
expect build ok
expect version ok
expect "build unit tests" ok
expect "CPU unit tests" ok
expect "GPU parity" 'SKIPPED\(77\)'
expect "first GPU run \(sync\)" 'FAIL\(5\)'
expect "full NYC on the GPU" 'FAIL\(5\)'
if grep -q "no usable device\|cudaGetDeviceCount\|SKIPPED: GPU parity needs a CUDA device" "$L"; then
    echo "  ok    GPU steps give the missing device as their reason: $(grep -m1 -o 'cudaGetDeviceCount: [^).]*' "$L")"
else
    echo "  WRONG the GPU steps do not say that no device was found"; fail=1
fi
echo "gpu_rehearsal: logs in $R/out ($(ls "$R/out" | tr '\n' ' '))"
[ $fail = 0 ] && echo "gpu_rehearsal: PASSED" || echo "gpu_rehearsal: FAILED"
exit $fail
