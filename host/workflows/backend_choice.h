/* Which backend a run uses: --backend cpu, cuda or auto. The one place that knows whether this build
 * has the CUDA backend. */
#ifndef CIV_BACKEND_CHOICE_H
#define CIV_BACKEND_CHOICE_H

#include <stdbool.h>

#include "host/engine/backend.h"

typedef enum { CIV_BACKEND_CPU = 0, CIV_BACKEND_CUDA = 1 } civ_backend;

/* The operations of `kind` in this build; NULL for CUDA in a build without it. */
const civ_backend_ops *civ_backend_ops_of(civ_backend kind);

/* Resolves --backend `want` ("cpu", "cuda" or "auto"; NULL is cpu). cuda and auto probe the CUDA
 * devices this build can run on: auto falls back to the CPU with a notice (unless quiet), cuda fails
 * with the reason (CIV_ERR_UNAVAILABLE). *devices: the usable devices (0 for the CPU). */
civ_status civ_backend_choose(const char *want, bool quiet, civ_backend *kind, int *devices, civ_error *err);

#endif
