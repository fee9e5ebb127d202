#include "host/util/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/error.h"

char *civ_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = civ_xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

FILE *civ_partial_open(const char *path, char *tmp, size_t tmp_len)
{
    if ((size_t)snprintf(tmp, tmp_len, "%s.partial", path) >= tmp_len) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return fopen(tmp, "w");
}

int civ_partial_commit(FILE *f, const char *tmp, const char *path)
{
    int rc = fclose(f) != 0 || rename(tmp, path) != 0 ? -1 : 0;
    if (rc) {
        int e = errno;
        remove(tmp);
        errno = e;
    }
    return rc;
}

void civ_partial_discard(FILE *f, const char *tmp)
{
    fclose(f);
    remove(tmp);
}

int civ_write_file_atomic(const char *path, const char *text)
{
    char tmp[4096];
    FILE *f = civ_partial_open(path, tmp, sizeof tmp);
    if (!f) return -1;
    if (fputs(text, f) == EOF) {
        int e = errno;
        civ_partial_discard(f, tmp);
        errno = e;
        return -1;
    }
    return civ_partial_commit(f, tmp, path);
}
