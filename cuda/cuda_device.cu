// CUDA devices: discovery, the description `civitas version` prints, the copy-bandwidth baseline of
// the benchmark (the backend itself is in backend_cuda.cu).
#include <cstdio>
#include <cstring>
#include <cuda_runtime.h>

#include "cuda/cublas_lazy.h"
#include "cuda/backend_cuda.h"
#include "host/core/trace.h"

extern "C" int civ_cuda_device_count(char *name, size_t name_len, char *why, size_t why_len)
{
    civ_trace_push("civitas: cuda probe");
    int n = 0, usable = 0;
    cudaError_t rc = cudaGetDeviceCount(&n);
    if (rc != cudaSuccess || n == 0)
        snprintf(why, why_len, "cudaGetDeviceCount: %s", rc != cudaSuccess ? cudaGetErrorString(rc) : "no devices");
    // only devices this build has code for: on others every launch would fail
    for (int d = 0; d < n; d++) {
        char reason[512] = "";
        if (!civ_cuda_device_runs_kernels(d, reason, sizeof reason)) {
            if (usable == 0) snprintf(why, why_len, "%s", reason);
            continue;
        }
        cudaDeviceProp p;
        if (usable == 0 && cudaGetDeviceProperties(&p, d) == cudaSuccess)
            snprintf(name, name_len, "%s (sm_%d%d)", p.name, p.major, p.minor);
        usable++;
    }
    civ_trace_pop();
    return usable;
}

// Device-to-device copy bandwidth (bytes read + written per second), the
// baseline the GPU benchmark compares its achieved bandwidth with.
extern "C" double civ_cuda_copy_bandwidth(size_t bytes)
{
    void *a = nullptr, *b = nullptr;
    if (cudaMalloc(&a, bytes) != cudaSuccess) return 0;
    if (cudaMalloc(&b, bytes) != cudaSuccess) { cudaFree(a); return 0; }
    cudaMemset(a, 1, bytes);
    cudaEvent_t t0, t1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);   // warm-up
    float best = 1e30f;
    for (int rep = 0; rep < 10; rep++) {
        cudaEventRecord(t0);
        cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
        cudaEventRecord(t1);
        cudaEventSynchronize(t1);
        float ms = 0;
        cudaEventElapsedTime(&ms, t0, t1);
        if (ms < best) best = ms;
    }
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    cudaFree(a);
    cudaFree(b);
    return 2.0 * (double)bytes / (best * 1e-3);
}

extern "C" void civ_cuda_describe(char *buf, size_t len)
{
    int rt = 0;
    cudaRuntimeGetVersion(&rt);
    char blas_why[512] = "", name[128] = "", dev_why[256] = "";
    const bool blas = civ_cublas_load(blas_why, sizeof blas_why) != nullptr;
    const int n = civ_cuda_device_count(name, sizeof name, dev_why, sizeof dev_why);
    snprintf(buf, len, "CUDA backend: built for sm_%s, CUDA runtime %d.%d; cuBLAS: %s; ", CIVITAS_CUDA_ARCHS,
             rt / 1000, (rt % 1000) / 10, blas ? "loadable" : blas_why);
    const size_t used = strlen(buf);
    if (n > 0) snprintf(buf + used, len - used, "%d device(s), device 0: %s", n, name);
    else snprintf(buf + used, len - used, "no usable device (%s)", dev_why);
}
