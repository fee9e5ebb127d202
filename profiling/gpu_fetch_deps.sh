#!/usr/bin/env bash
# Run HERE (Debian 12 dev machine), once per session that has a GPU: downloads the .deb files the
# build needs (HDF5, cJSON, cmocka, Random123 and their runtime libraries) into .deps/, which
# .git/info/exclude ignores. Then name ".deps" in the device tool's `carry` and run
# profiling/gpu_session.sh there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
grep -qx '/.deps/' .git/info/exclude 2>/dev/null || echo '/.deps/' >> .git/info/exclude
mkdir -p .deps
dev=(libhdf5-dev libcjson-dev libcmocka-dev librandom123-dev libcurl4-openssl-dev)
runtime=(libhdf5-103-1 libhdf5-hl-100 libcjson1 libcmocka0)
# runtime closure, minus what every Linux system has
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "${runtime[@]}" | grep '^[a-z]' | sort -u |
          grep -vE '^(libc6|libgcc-s1|gcc-12-base|libstdc\+\+6|debconf|perl-base|dpkg|libcrypt1|libselinux1|zlib1g)$')
cd .deps
apt-get download "${dev[@]}" $closure >/dev/null
echo "civitas: $(ls *.deb | wc -l) packages, $(du -sh . | cut -f1) in .deps/"
