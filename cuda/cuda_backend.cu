// CUDA backend, stage 1: device discovery, and the shared per-agent rules
// compiled into a kernel (the full backend is issue 4).
#include <cstdio>
#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>

#include "cuda/cuda_backend.h"
#include "models/covid/covid_model.h"

// Progression of every agent by one day, with the same rule the CPU loop uses.
__global__ void civ_progress_kernel(civ_covid_params m, civ_policy pol, unsigned long long seed,
                                    const float *table, civ_agents a, int day, unsigned *events)
{
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= a.n) return;
    events[i] = civ_progress(&m, &pol, seed, table, &a, i, day);
}

extern "C" int civ_cuda_device_count(char *name, size_t name_len, char *why, size_t why_len)
{
    nvtxRangePushA("civitas: cuda probe");
    int n = 0;
    cudaError_t rc = cudaGetDeviceCount(&n);
    if (rc != cudaSuccess || n == 0) {
        snprintf(why, why_len, "cudaGetDeviceCount: %s", rc != cudaSuccess ? cudaGetErrorString(rc) : "no devices");
        nvtxRangePop();
        return 0;
    }
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) snprintf(name, name_len, "%s (sm_%d%d)", p.name, p.major, p.minor);
    nvtxRangePop();
    return n;
}
