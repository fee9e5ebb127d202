"""Unpacks a .deb file's data into a folder, like `dpkg -x DEB DIR`, for machines without dpkg
(profiling/gpu_session.sh). A .deb is an ar archive holding data.tar.{xz,gz,zst}; Python's tarfile
reads xz and gz (Debian 12 packages use xz)."""
import io
import os
import sys
import tarfile


def ar_members(blob):
    if not blob.startswith(b"!<arch>\n"):
        raise ValueError("not an ar archive")
    pos = 8
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        yield name, blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)


def main(deb, dest):
    with open(deb, "rb") as f:
        blob = f.read()
    for name, data in ar_members(blob):
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                sys.exit(f"{deb}: {name} is zstd-compressed, which Python cannot read; install dpkg")
            with tarfile.open(fileobj=io.BytesIO(data)) as t:
                # paths are relative (./usr/...); keep symlinks as they are, like dpkg -x
                t.extractall(dest, filter="tar" if hasattr(tarfile, "data_filter") else None)
            return
    sys.exit(f"{deb}: no data.tar member")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: unpack_deb.py DEB DIR")
    os.makedirs(sys.argv[2], exist_ok=True)
    main(sys.argv[1], sys.argv[2])
