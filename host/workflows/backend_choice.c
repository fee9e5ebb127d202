#include "host/workflows/backend_choice.h"

#include <stdio.h>
#include <string.h>

#ifdef CIVITAS_HAVE_CUDA
#include "cuda/backend_cuda.h"
#endif

const civ_backend_ops *civ_backend_ops_of(civ_backend kind)
{
    if (kind == CIV_BACKEND_CPU) return &civ_backend_cpu;
#ifdef CIVITAS_HAVE_CUDA
    if (kind == CIV_BACKEND_CUDA) return &civ_backend_cuda;
#endif
    return NULL;
}

civ_status civ_backend_choose(const char *want, bool quiet, civ_backend *kind, int *devices, civ_error *err)
{
    *kind = CIV_BACKEND_CPU;
    *devices = 0;
    if (!want || strcmp(want, "cpu") == 0) return CIV_OK;
    if (strcmp(want, "cuda") != 0 && strcmp(want, "auto") != 0)
        return civ_fail(err, CIV_ERR_USAGE, "--backend '%s': expected cpu, cuda or auto", want);
    char why[512] = "this build has no CUDA support (configured without nvcc, or with -DCIVITAS_ENABLE_CUDA=OFF)";
#ifdef CIVITAS_HAVE_CUDA
    char name[128] = "";
    const int n = civ_cuda_device_count(name, sizeof name, why, sizeof why);
    if (n > 0) {
        if (!quiet) fprintf(stderr, "civitas: CUDA device: %s\n", name);
        *kind = CIV_BACKEND_CUDA;
        *devices = n;
        return CIV_OK;
    }
#endif
    if (strcmp(want, "cuda") == 0)
        return civ_fail(err, CIV_ERR_UNAVAILABLE, "--backend cuda is not usable: %s. Use --backend cpu or auto.", why);
    if (!quiet) fprintf(stderr, "civitas: notice: --backend auto: using the CPU backend (%s)\n", why);
    return CIV_OK;
}
