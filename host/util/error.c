#include "host/util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

civ_status civ_fail(civ_error *err, civ_status status, const char *fmt, ...)
{
    if (!err) return status;
    if (err->status != CIV_OK) return err->status; /* keep the first cause */
    va_list ap;
    va_start(ap, fmt);
    char *full = NULL;
    int n = vasprintf(&full, fmt, ap);
    va_end(ap);
    if (n < 0) {
        snprintf(err->msg, sizeof err->msg, "(out of memory formatting an error message)");
    } else if ((size_t)n < sizeof err->msg) {
        memcpy(err->msg, full, (size_t)n + 1);
    } else {
        /* too long (a very long path): keep both ends, so the reason at the end survives */
        char mid[64];
        const int shown = snprintf(mid, sizeof mid, " [... %d characters left out ...] ", n);
        const size_t keep = (sizeof err->msg - 1 - (size_t)shown) / 2;
        memcpy(err->msg, full, keep);
        memcpy(err->msg + keep, mid, (size_t)shown);
        memcpy(err->msg + keep + (size_t)shown, full + (size_t)n - keep, keep);
        err->msg[keep + (size_t)shown + keep] = 0;
    }
    free(full);
    err->status = status;
    return status;
}

static void out_of_memory(size_t bytes)
{
    fprintf(stderr, "civitas: error: out of memory allocating %zu bytes "
            "(try a smaller --scale)\n", bytes);
    exit(CIV_ERR_RUNTIME);
}

void *civ_xcalloc(size_t n, size_t size)
{
    if (n == 0 || size == 0) n = size = 1;
    void *p = calloc(n, size);
    if (!p) out_of_memory(n * size);
    return p;
}

void *civ_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) out_of_memory(size);
    return p;
}
