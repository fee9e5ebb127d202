#include "cuda/cublas_lazy.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

#define CIV_STR2(x) #x
#define CIV_STR(x) CIV_STR2(x)
#define CIV_CUBLAS_SONAME "libcublas.so." CIV_STR(CUBLAS_VER_MAJOR)

namespace {

civ_cublas g_blas;
const char *g_failed;            // the first failure, kept for later callers
char g_why[512];
const char *g_from = CIV_CUBLAS_SONAME;   // what was opened, for messages

template <typename F>
bool sym(void *lib, const char *name, F *out)
{
    *out = reinterpret_cast<F>(dlsym(lib, name));
    if (!*out) snprintf(g_why, sizeof g_why, "%s has no symbol %s (not cuBLAS %d?)", g_from, name, CUBLAS_VER_MAJOR);
    return *out != nullptr;
}

void load()
{
    void *lib = nullptr;
    const char *forced = getenv("CIVITAS_CUBLAS");
    if (forced && *forced) {   // an explicit library, e.g. from a Python wheel; nothing else is tried
        g_from = forced;
        if (!(lib = dlopen(forced, RTLD_NOW | RTLD_LOCAL)))
            snprintf(g_why, sizeof g_why, "cannot load cuBLAS from CIVITAS_CUBLAS=%s: %s", forced, dlerror());
    } else {
        // the soname first (RUNPATH, LD_LIBRARY_PATH, ld.so.cache), then the toolkit this was built with
        lib = dlopen(CIV_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
#ifdef CIVITAS_CUDA_LIBRARY_DIR
        if (!lib) lib = dlopen(CIVITAS_CUDA_LIBRARY_DIR "/" CIV_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
#endif
        if (!lib)
            snprintf(g_why, sizeof g_why, "cannot load cuBLAS (%s): %s; the CUDA backend needs the CUDA toolkit's "
                     "cuBLAS on the library path (LD_LIBRARY_PATH) or named by CIVITAS_CUBLAS", CIV_CUBLAS_SONAME,
                     dlerror());
    }
    if (!lib) {
        g_failed = g_why;
        return;
    }
    if (!(sym(lib, "cublasCreate_v2", &g_blas.create) && sym(lib, "cublasDestroy_v2", &g_blas.destroy) &&
          sym(lib, "cublasSetStream_v2", &g_blas.set_stream) && sym(lib, "cublasSetMathMode", &g_blas.set_math_mode) &&
          sym(lib, "cublasDgemm_v2", &g_blas.dgemm) && sym(lib, "cublasGetStatusString", &g_blas.status_string)))
        g_failed = g_why;
}

}  // namespace

const civ_cublas *civ_cublas_load(char *err, size_t err_len)
{
    static std::once_flag once;
    std::call_once(once, load);
    if (g_failed) {
        snprintf(err, err_len, "%s", g_failed);
        return nullptr;
    }
    return &g_blas;
}
