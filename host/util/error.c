#include "host/util/error.h"

#include <stdio.h>
#include <stdlib.h>

civ_status civ_fail(civ_error *err, civ_status status, const char *fmt, ...)
{
    if (!err) return status;
    if (err->status != CIV_OK) return err->status; /* keep the first cause */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
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
