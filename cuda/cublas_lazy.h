// cuBLAS, loaded with dlopen when the CUDA backend starts. Linking it would make
// every civitas process (CPU runs, tests, MPI ranks) map libcublasLt at start-up,
// about 0.4 s each; only a GPU run needs it. C++ (nvcc) only.
#ifndef CIV_CUBLAS_LAZY_H
#define CIV_CUBLAS_LAZY_H

#include <cstddef>

#include <cublas_v2.h>

struct civ_cublas {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasDgemm_v2) dgemm;
    decltype(&cublasGetStatusString) status_string;
};

// The loaded library (once per process), or nullptr with the reason in err.
const civ_cublas *civ_cublas_load(char *err, size_t err_len);

#endif
