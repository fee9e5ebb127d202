// CUDA backend: device-resident agent state, one kernel per pass of a day.
// The kernels call the pass bodies of models/covid/covid_step.h, the same code
// the OpenMP loops run; group sums and tallies are integer atomics, so the
// results are the CPU backend's to the last count. Community mixing is two
// cuBLAS DGEMMs (level sums over tracts, contact matrix x rates over all
// tracts) on integer-valued doubles in block fixed point: exact, so the
// result does not depend on cuBLAS's summation order (cuda/mixing_gemm.h).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cuda_runtime.h>

#include "cuda/cublas_lazy.h"
#include "cuda/cuda_backend.h"
#include "cuda/mixing_gemm.h"
#include "host/core/trace.h"
#include "models/covid/covid_step.h"

namespace {

struct Range {
    explicit Range(const char *name) { civ_trace_push(name); }
    ~Range() { civ_trace_pop(); }
};

#define CIV_CU(call)                                                                             \
    do {                                                                                         \
        cudaError_t rc_ = (call);                                                                \
        if (rc_ != cudaSuccess) {                                                                \
            snprintf(err, err_len, "%s failed: %s", #call, cudaGetErrorString(rc_));             \
            return -1;                                                                           \
        }                                                                                        \
    } while (0)

#define CIV_CUBLAS(blas, fn, name, ...)                                                          \
    do {                                                                                         \
        cublasStatus_t rc_ = (blas)->fn(__VA_ARGS__);                                            \
        if (rc_ != CUBLAS_STATUS_SUCCESS) {                                                      \
            snprintf(err, err_len, "%s failed: %s", name, (blas)->status_string(rc_));           \
            return -1;                                                                           \
        }                                                                                        \
    } while (0)

constexpr int kBlock = 256;
// k_update is limited to 40 registers (65536 / (256 x 6)) without spills (nvcc -Xptxas -v, sm_90): more
// resident warps to hide the random reads of group sums.
constexpr int kUpdateMinBlocksPerSM = 6;

// The first index fault a kernel found (CIVITAS_CUDA_SYNC=1 only; code 0 = none).
struct civ_device_fault {
    int code;
    uint32_t agent;
};

// Checks agent i's indices when checking is on (fault != nullptr); records the first fault.
__device__ bool index_fault(const civ_agents &a, const civ_index_limits &lim, civ_device_fault *fault, uint32_t i)
{
    if (!fault) return false;
    const int code = civ_agent_index_fault(&a, &lim, i);
    if (code == CIV_FAULT_NONE) return false;
    if (atomicCAS(&fault->code, 0, code) == 0) fault->agent = i;
    return true;
}

static cublasOperation_t op(int trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

__global__ void k_attend(const civ_covid_params *m, civ_policy pol, uint64_t seed, const float *table,
                         civ_agents a, civ_groups g, int day, civ_index_limits lim, civ_device_fault *fault)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < a.n && !index_fault(a, lim, fault, i)) civ_pass_attend(m, &pol, seed, table, &a, &g, i, day);
}

// S[j] = tract_sum[j] as a double (exact: every sum is below 2^53, checked at staging)
__global__ void k_sums_to_double(const uint64_t *tract_sum, double *S, uint32_t n)
{
    uint32_t j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n) S[j] = (double)tract_sum[j];
}

// Mixed rate of (tract, band) j from the level sums L (the first GEMM) and the static level counts;
// the day's maximum rate goes to *max_bits (non-negative floats order as their bit patterns).
__global__ void k_mix_rate(const civ_covid_params *m, const uint64_t *tract_sum, const uint32_t *tract_count,
                           const uint8_t *tract_borough, const double *L, const uint64_t *level_count,
                           float *rate, unsigned *max_bits, uint32_t n)
{
    uint32_t j = blockIdx.x * blockDim.x + threadIdx.x;
    float r = 0.0f;
    if (j < n) {
        const int k = j % CIV_N_PREM, b = tract_borough[j / CIV_N_PREM];
        const int bj = b * CIV_N_PREM + k, cj = CIV_NBOROUGH * CIV_N_PREM + k;
        const float brate = civ_rate_from_totals((uint64_t)L[bj], level_count[bj]);
        const float crate = civ_rate_from_totals((uint64_t)L[cj], level_count[cj]);
        r = civ_mix_rate(m, tract_sum[j], tract_count[j], brate, crate);
        rate[j] = r;
    }
    unsigned bits = __reduce_max_sync(0xFFFFFFFFu, __float_as_uint(r));
    if ((threadIdx.x & 31) == 0 && bits) atomicMax(max_bits, bits);
}

__global__ void k_mix_quantize(const float *rate, const unsigned *max_bits, double *RQ, uint32_t n)
{
    uint32_t j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    const int shift = civ_mix_shift(__uint_as_float(*max_bits), CIV_MIX_RATE_BITS);
    RQ[j] = (double)civ_mix_quantize(rate[j], civ_pow2(shift));
}

__global__ void k_mix_pressure(const double *P, const unsigned *max_bits, int matrix_shift, float scale,
                               float *pressure, uint32_t n)
{
    uint32_t j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    const int shift = civ_mix_shift(__uint_as_float(*max_bits), CIV_MIX_RATE_BITS);
    pressure[j] = civ_mix_pressure(P[j], matrix_shift + shift, scale);
}

// Pass 3 (transmit and progress) of covid_step.h, with the day's tallies counted per block in shared memory.
__global__ void __launch_bounds__(kBlock, kUpdateMinBlocksPerSM)
k_transmit_progress(const civ_covid_params *m, civ_policy pol, uint64_t seed, const float *table, civ_agents a,
                    civ_groups g, int day, const uint8_t *out_band_of_age, int nb, int *series, civ_index_limits lim,
                    civ_device_fault *fault)
{
    extern __shared__ int counts[];
    const int nv = V_NVARS * CIV_NBOROUGH * nb;
    for (int k = threadIdx.x; k < nv; k += blockDim.x) counts[k] = 0;
    __syncthreads();
    // grid-stride: few blocks, so few block-to-global counter flushes
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += gridDim.x * blockDim.x) {
        if (index_fault(a, lim, fault, i)) continue;
        civ_tally r = civ_pass_update(m, &pol, seed, table, &a, &g, i, day);
        const int cell = a.borough[i] * nb + out_band_of_age[a.age[i]];
#define CIV_GPU_INC(idx) atomicAdd(&counts[idx], 1)
        CIV_TALLY_EACH(r, cell, nb, CIV_GPU_INC);
#undef CIV_GPU_INC
    }
    __syncthreads();
    for (int k = threadIdx.x; k < nv; k += blockDim.x)
        if (counts[k]) atomicAdd(&series[k], counts[k]);
}

}  // namespace

extern "C" int civ_cuda_device_runs_kernels(int device, char *why, size_t why_len)
{
    cudaFuncAttributes attr;
    cudaError_t rc = cudaSetDevice(device);
    if (rc == cudaSuccess) rc = cudaFuncGetAttributes(&attr, k_transmit_progress);
    if (rc == cudaSuccess) return 1;
    cudaDeviceProp p;
    char dev[300] = "";
    if (cudaGetDeviceProperties(&p, device) == cudaSuccess)
        snprintf(dev, sizeof dev, " (%s, sm_%d%d)", p.name, p.major, p.minor);
    snprintf(why, why_len, "device %d%s cannot run this build's kernels, built for sm_%s (%s); rebuild with "
             "-DCMAKE_CUDA_ARCHITECTURES set to the device's compute capability", device, dev, CIVITAS_CUDA_ARCHS,
             cudaGetErrorString(rc));
    cudaGetLastError();   // not sticky, but leave no error behind for the next call
    return 0;
}

struct civ_cuda_engine {
    int device;
    uint32_t n, n_households, n_places, n_tracts;
    int nb, n_arch;
    unsigned update_blocks;   // grid of k_transmit_progress: as many blocks as can be resident at once
    bool sync_each_launch;    // CIVITAS_CUDA_SYNC=1: wait after every launch, check indices in the kernels
    civ_index_limits lim;
    civ_device_fault *d_fault;   // nullptr unless sync_each_launch
    uint64_t seed;
    civ_covid_params *d_model;
    civ_agents a;           // device pointers
    civ_groups g;           // device pointers
    uint8_t *d_tract_borough, *d_out_band;
    uint32_t *d_tract_count;
    float *d_table;
    // community mixing (cuBLAS): see cuda/mixing_gemm.h
    const civ_cublas *blas_lib;
    cublasHandle_t blas;
    double *d_S, *d_member, *d_L, *d_RQ, *d_P, *d_Cq;
    uint64_t *d_level_count;
    float *d_mix_rate;
    unsigned *d_max_bits;
    float w_community;
    int matrix_shift;
    float *h_table;             // pinned staging of the decision table
    int *d_series, *h_series;   // h_series: pinned
    cudaStream_t stream;
    cudaEvent_t series_ready;   // the launched day's series are in h_series
    cudaEvent_t table_copied;   // h_table may be overwritten
    void *allocs[64];
    int n_allocs;
};

static size_t agent_bytes() { return 1 + 1 + 2 + 2 + 4 + 4 + 4 * 1 + 4 * 2 + 1; }

extern "C" size_t civ_cuda_bytes_needed(const civ_cuda_setup *s)
{
    return (size_t)s->n_agents * agent_bytes() + (size_t)s->n_households * 8 + (size_t)s->n_places * (8 + 4 + 1) +
           (size_t)s->n_tracts * CIV_N_PREM * (8 + 4 + 4) + s->n_tracts + sizeof(civ_covid_params) +
           (size_t)s->n_archetypes * CIV_N_DECISION * 4 + (size_t)V_NVARS * CIV_NBOROUGH * s->n_out_bands * 4 +
           // mixing: S, RQ, P (double), rates (float) per tract x band; membership; level sums/counts; Cq
           (size_t)s->n_tracts * CIV_N_PREM * (8 + 8 + 8 + 4) + (size_t)s->n_tracts * CIV_N_LEVEL_SUMS * 8 +
           CIV_N_LEVEL_SUMS * CIV_N_PREM * 16 + CIV_N_PREM * CIV_N_PREM * 8 + 4096 +
           ((size_t)32 << 20);   // the cuBLAS handle's workspace (estimate)
}

// Level sums in double must be exact: the city's total infectiousness stays below 2^53.
static int check_exact_sums(const civ_cuda_setup *s, char *err, size_t err_len)
{
    const civ_covid_params *m = s->model;
    uint64_t fmax = 0, pmax = 0;
    for (int k = 0; k < 3; k++) fmax = m->factor_q[k] > fmax ? m->factor_q[k] : fmax;
    for (int d = 0; d < CIV_MAX_DAYS; d++) pmax = m->profile_q[d] > pmax ? m->profile_q[d] : pmax;
    const double bound = (double)s->n_agents * (double)((fmax * pmax) >> 16);
    if (bound >= 9007199254740992.0) {   // 2^53
        snprintf(err, err_len, "%u agents x the largest infectiousness (%llu in fixed point) can exceed 2^53, the exact "
                 "range of the GPU's double-precision level sums; use fewer agents or smaller infectiousness factors",
                 s->n_agents, (unsigned long long)((fmax * pmax) >> 16));
        return -1;
    }
    return 0;
}

// After a launch: its launch error; with CIVITAS_CUDA_SYNC=1 also the error of the work itself and
// any index fault a kernel recorded, named after `what` (otherwise a fault surfaces at the day's end,
// unattributed).
static int check_launch(const civ_cuda_engine *g, const char *what, char *err, size_t err_len)
{
    cudaError_t rc = cudaGetLastError();
    if (rc != cudaSuccess) {
        snprintf(err, err_len, "launching %s failed: %s", what, cudaGetErrorString(rc));
        return -1;
    }
    if (!g->sync_each_launch) return 0;
    rc = cudaStreamSynchronize(g->stream);
    if (rc != cudaSuccess) {
        snprintf(err, err_len, "%s failed: %s (found by CIVITAS_CUDA_SYNC=1)", what, cudaGetErrorString(rc));
        return -1;
    }
    civ_device_fault f;
    rc = cudaMemcpy(&f, g->d_fault, sizeof f, cudaMemcpyDeviceToHost);
    if (rc != cudaSuccess) {
        snprintf(err, err_len, "reading the index check of %s failed: %s", what, cudaGetErrorString(rc));
        return -1;
    }
    if (f.code != CIV_FAULT_NONE) {
        snprintf(err, err_len, "%s: agent %u has a %s index outside its table (found by CIVITAS_CUDA_SYNC=1)", what,
                 f.agent, civ_index_fault_field(f.code));
        return -1;
    }
    return 0;
}

template <typename T>
static int dev_copy(civ_cuda_engine *g, T **dst, const T *src, size_t count, const char *what, char *err, size_t err_len)
{
    size_t bytes = count * sizeof(T);
    if (bytes == 0) bytes = sizeof(T);
    void *p = nullptr;
    if (g->n_allocs == (int)(sizeof g->allocs / sizeof g->allocs[0])) {
        snprintf(err, err_len, "internal error: more device arrays than civ_cuda_engine.allocs holds (%s)", what);
        return -1;
    }
    cudaError_t rc = cudaMalloc(&p, bytes);
    if (rc != cudaSuccess) {
        snprintf(err, err_len, "cudaMalloc(%s, %zu bytes) failed: %s", what, bytes, cudaGetErrorString(rc));
        return -1;
    }
    g->allocs[g->n_allocs++] = p;
    *dst = static_cast<T *>(p);
    if (src) {
        rc = cudaMemcpy(p, src, count * sizeof(T), cudaMemcpyHostToDevice);
        if (rc != cudaSuccess) {
            snprintf(err, err_len, "cudaMemcpy(%s, %zu bytes) failed: %s", what, bytes, cudaGetErrorString(rc));
            return -1;
        }
    }
    return 0;
}

// Static inputs of community mixing: borough membership, people per level and band (from the host), the quantized
// contact matrix; and the cuBLAS handle on the engine's stream.
static int stage_mixing(civ_cuda_engine *g, const civ_cuda_setup *s, char *err, size_t err_len)
{
    const uint32_t nt = s->n_tracts;
    double *member = new double[(size_t)nt * CIV_N_LEVEL_SUMS]();
    for (uint32_t t = 0; t < nt; t++) {
        member[(size_t)s->tract_borough[t] * nt + t] = 1.0;
        member[(size_t)CIV_NBOROUGH * nt + t] = 1.0;
    }
    double cq[CIV_N_PREM * CIV_N_PREM];   // row-major [a][k]; the GEMM reads it transposed
    for (int a = 0; a < CIV_N_PREM; a++)
        for (int k = 0; k < CIV_N_PREM; k++) cq[a * CIV_N_PREM + k] = (double)s->model->community_q[a][k];
    g->w_community = s->model->w_community;
    g->matrix_shift = s->model->community_q_shift;
    int rc = dev_copy(g, &g->d_member, member, (size_t)nt * CIV_N_LEVEL_SUMS, "mixing: membership", err, err_len) ||
             dev_copy(g, &g->d_level_count, s->level_count, CIV_N_LEVEL_SUMS * CIV_N_PREM, "mixing: level counts", err, err_len) ||
             dev_copy(g, &g->d_Cq, cq, CIV_N_PREM * CIV_N_PREM, "mixing: contact matrix", err, err_len);
    delete[] member;
    if (rc) return -1;
    if (!(g->blas_lib = civ_cublas_load(err, err_len))) return -1;
    const civ_cublas *b = g->blas_lib;
    CIV_CUBLAS(b, create, "cublasCreate", &g->blas);
    CIV_CUBLAS(b, set_stream, "cublasSetStream", g->blas, g->stream);
    // standard IEEE double arithmetic (no emulation); exactness does not depend on it, but say so
    CIV_CUBLAS(b, set_math_mode, "cublasSetMathMode", g->blas, CUBLAS_PEDANTIC_MATH);
    return 0;
}

// One DGEMM of a civ_gemm_shape: C = op(A) . op(B).
static int dgemm(const civ_cuda_engine *g, const civ_gemm_shape &sh, const double *A, const double *B, double *C,
                 const char *what, char *err, size_t err_len)
{
    const double one = 1.0, zero = 0.0;
    cublasStatus_t rc = g->blas_lib->dgemm(g->blas, op(sh.trans_a), op(sh.trans_b), sh.m, sh.n, sh.k, &one, A, sh.lda,
                                           B, sh.ldb, &zero, C, sh.ldc);
    if (rc != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, err_len, "cublasDgemm(%s) failed: %s", what, g->blas_lib->status_string(rc));
        return -1;
    }
    return 0;
}

extern "C" civ_cuda_engine *civ_cuda_create(const civ_cuda_setup *s, char *err, size_t err_len)
{
    Range r("civitas: stage to device");
    size_t free_b = 0, total_b = 0;
    cudaError_t rc = cudaSetDevice(s->device);
    if (rc != cudaSuccess) {
        snprintf(err, err_len, "cudaSetDevice(%d) failed: %s", s->device, cudaGetErrorString(rc));
        return nullptr;
    }
    rc = cudaMemGetInfo(&free_b, &total_b);
    if (rc != cudaSuccess) {
        snprintf(err, err_len, "cudaMemGetInfo failed: %s", cudaGetErrorString(rc));
        return nullptr;
    }
    if (check_exact_sums(s, err, err_len)) return nullptr;
    size_t need = civ_cuda_bytes_needed(s);
    if (need > free_b) {
        snprintf(err, err_len, "the population needs %.1f MiB of device memory but %.1f MiB of %.1f MiB are free; "
                 "use a smaller --scale or a larger GPU", need / 1048576.0, free_b / 1048576.0, total_b / 1048576.0);
        return nullptr;
    }
    civ_cuda_engine *g = new civ_cuda_engine();
    g->device = s->device;
    const char *sync = getenv("CIVITAS_CUDA_SYNC");
    g->sync_each_launch = sync && *sync && strcmp(sync, "0") != 0;
    g->lim.n_households = s->n_households;
    g->lim.n_places = s->n_places;
    g->lim.n_tracts = s->n_tracts;
    g->lim.n_archetypes = (uint32_t)s->n_archetypes;
    g->n = s->n_agents; g->n_households = s->n_households; g->n_places = s->n_places; g->n_tracts = s->n_tracts;
    g->nb = s->n_out_bands; g->n_arch = s->n_archetypes; g->seed = s->seed;
    int sms = 0, per_sm = 0;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, s->device) != cudaSuccess || sms <= 0) sms = 132;
    const size_t tally_bytes = (size_t)V_NVARS * CIV_NBOROUGH * s->n_out_bands * sizeof(int);
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k_transmit_progress, kBlock, tally_bytes) != cudaSuccess ||
        per_sm <= 0)
        per_sm = 4;
    g->update_blocks = (unsigned)(per_sm * sms);
    const size_t n = s->n_agents;
    const size_t nt = (size_t)s->n_tracts * CIV_N_PREM;
    civ_agents &a = g->a;
    a.n = s->n_agents;
    uint8_t *age, *borough, *pis, *stage, *course, *flags, *labour, *today;
    uint16_t *tract, *arch;
    uint32_t *hh, *psize;
    int32_t *place;
    int16_t *inf, *next, *test, *iso;
    uint64_t *hsum, *psum, *tsum;
    float *pressure;
    int ok = dev_copy(g, &age, s->age, n, "age", err, err_len) == 0 &&
        dev_copy(g, &borough, s->borough, n, "borough", err, err_len) == 0 &&
        dev_copy(g, &tract, s->tract, n, "tract", err, err_len) == 0 &&
        dev_copy(g, &arch, s->archetype, n, "archetype", err, err_len) == 0 &&
        dev_copy(g, &hh, s->household, n, "household", err, err_len) == 0 &&
        dev_copy(g, &place, s->place, n, "place", err, err_len) == 0 &&
        dev_copy(g, &pis, s->place_is_school, s->n_places, "place_is_school", err, err_len) == 0 &&
        dev_copy(g, &psize, s->place_size, s->n_places, "place_size", err, err_len) == 0 &&
        dev_copy(g, &stage, s->stage, n, "stage", err, err_len) == 0 &&
        dev_copy(g, &course, s->course, n, "course", err, err_len) == 0 &&
        dev_copy(g, &flags, s->flags, n, "flags", err, err_len) == 0 &&
        dev_copy(g, &labour, s->labour, n, "labour", err, err_len) == 0 &&
        dev_copy(g, &inf, s->infected_day, n, "infected_day", err, err_len) == 0 &&
        dev_copy(g, &next, s->next_day, n, "next_day", err, err_len) == 0 &&
        dev_copy(g, &test, s->test_day, n, "test_day", err, err_len) == 0 &&
        dev_copy(g, &iso, s->iso_until, n, "iso_until", err, err_len) == 0 &&
        dev_copy<uint8_t>(g, &today, nullptr, n, "today", err, err_len) == 0 &&
        dev_copy<uint64_t>(g, &hsum, nullptr, s->n_households, "household_sum", err, err_len) == 0 &&
        dev_copy<uint64_t>(g, &psum, nullptr, s->n_places, "place_sum", err, err_len) == 0 &&
        dev_copy<uint64_t>(g, &tsum, nullptr, nt, "tract_sum", err, err_len) == 0 &&
        dev_copy<float>(g, &pressure, nullptr, nt, "community_pressure", err, err_len) == 0 &&
        dev_copy(g, &g->d_tract_count, s->tract_count, nt, "tract_count", err, err_len) == 0 &&
        dev_copy(g, &g->d_tract_borough, s->tract_borough, s->n_tracts, "tract_borough", err, err_len) == 0 &&
        dev_copy(g, &g->d_out_band, s->out_band_of_age, CIV_MAX_AGE + 1, "out_band_of_age", err, err_len) == 0 &&
        dev_copy(g, &g->d_model, s->model, 1, "model", err, err_len) == 0 &&
        dev_copy<double>(g, &g->d_S, nullptr, nt, "mixing: tract sums", err, err_len) == 0 &&
        dev_copy<double>(g, &g->d_RQ, nullptr, nt, "mixing: quantized rates", err, err_len) == 0 &&
        dev_copy<double>(g, &g->d_P, nullptr, nt, "mixing: product", err, err_len) == 0 &&
        dev_copy<float>(g, &g->d_mix_rate, nullptr, nt, "mixing: rates", err, err_len) == 0 &&
        dev_copy<double>(g, &g->d_L, nullptr, CIV_N_LEVEL_SUMS * CIV_N_PREM, "mixing: level sums", err, err_len) == 0 &&
        dev_copy<unsigned>(g, &g->d_max_bits, nullptr, 1, "mixing: maximum rate", err, err_len) == 0 &&
        dev_copy<float>(g, &g->d_table, nullptr, (size_t)s->n_archetypes * CIV_N_DECISION, "table", err, err_len) == 0 &&
        dev_copy<int>(g, &g->d_series, nullptr, (size_t)V_NVARS * CIV_NBOROUGH * s->n_out_bands, "series", err, err_len) == 0 &&
        (!g->sync_each_launch || dev_copy<civ_device_fault>(g, &g->d_fault, nullptr, 1, "index check", err, err_len) == 0);
    if (ok && g->d_fault && (rc = cudaMemset(g->d_fault, 0, sizeof(civ_device_fault))) != cudaSuccess) {
        snprintf(err, err_len, "cudaMemset(index check) failed: %s", cudaGetErrorString(rc));
        ok = 0;
    }
    if (ok) {
        const char *what = "cudaMallocHost(series)";
        rc = cudaMallocHost(&g->h_series, (size_t)V_NVARS * CIV_NBOROUGH * s->n_out_bands * sizeof(int));
        if (rc == cudaSuccess) {
            what = "cudaMallocHost(table)";
            rc = cudaMallocHost(&g->h_table, (size_t)(s->n_archetypes ? s->n_archetypes : 1) * CIV_N_DECISION * sizeof(float));
        }
        if (rc == cudaSuccess) { what = "cudaStreamCreate"; rc = cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking); }
        if (rc == cudaSuccess) { what = "cudaEventCreate"; rc = cudaEventCreateWithFlags(&g->series_ready, cudaEventDisableTiming); }
        if (rc == cudaSuccess) rc = cudaEventCreateWithFlags(&g->table_copied, cudaEventDisableTiming);
        if (rc != cudaSuccess) {
            snprintf(err, err_len, "%s failed: %s", what, cudaGetErrorString(rc));
            ok = 0;
        }
    }
    if (ok) ok = stage_mixing(g, s, err, err_len) == 0;
    // cudaMemcpy from pageable memory may return before its DMA lands; the work stream does not
    // synchronise with the legacy stream, so the staging must be complete before the first launch
    if (ok && (rc = cudaDeviceSynchronize()) != cudaSuccess) {
        snprintf(err, err_len, "staging agent state (cudaDeviceSynchronize) failed: %s", cudaGetErrorString(rc));
        ok = 0;
    }
    if (!ok) {
        civ_cuda_destroy(g);
        return nullptr;
    }
    a.age = age; a.borough = borough; a.tract = tract; a.archetype = arch; a.household = hh; a.place = place;
    a.place_is_school = pis; a.place_size = psize;
    a.stage = stage; a.course = course; a.flags = flags; a.labour = labour;
    a.infected_day = inf; a.next_day = next; a.test_day = test; a.iso_until = iso;
    g->g.household_sum = hsum; g->g.place_sum = psum; g->g.tract_sum = tsum;
    g->g.community_pressure = pressure; g->g.today = today;
    return g;
}

extern "C" int civ_cuda_upload_table(civ_cuda_engine *g, const float *table, char *err, size_t err_len)
{
    Range r("civitas: table upload");
    CIV_CU(cudaSetDevice(g->device));
    const size_t bytes = (size_t)g->n_arch * CIV_N_DECISION * sizeof(float);
    // The staging buffer is reused only once its last copy has left it (days ago at any refresh
    // interval, and at once before the first upload: the event is unrecorded). The host never waits
    // for the kernels.
    CIV_CU(cudaEventSynchronize(g->table_copied));
    memcpy(g->h_table, table, bytes);
    // stream-ordered: the next day's kernels see the new table, the previous day's the old one
    CIV_CU(cudaMemcpyAsync(g->d_table, g->h_table, bytes, cudaMemcpyHostToDevice, g->stream));
    CIV_CU(cudaEventRecord(g->table_copied, g->stream));
    return 0;
}

extern "C" int civ_cuda_launch(civ_cuda_engine *g, const civ_policy *pol, int day, char *err, size_t err_len)
{
    Range day_range("civitas: launch day");
    CIV_CU(cudaSetDevice(g->device));
    const size_t nv = (size_t)V_NVARS * CIV_NBOROUGH * g->nb;
    const unsigned blocks = (unsigned)((g->n + kBlock - 1) / kBlock);
    {
        Range r("civitas: clear sums");
        CIV_CU(cudaMemsetAsync(g->g.household_sum, 0, (size_t)g->n_households * 8, g->stream));
        CIV_CU(cudaMemsetAsync(g->g.place_sum, 0, (size_t)(g->n_places ? g->n_places : 1) * 8, g->stream));
        CIV_CU(cudaMemsetAsync(g->g.tract_sum, 0, (size_t)g->n_tracts * CIV_N_PREM * 8, g->stream));
        CIV_CU(cudaMemsetAsync(g->d_series, 0, nv * sizeof(int), g->stream));
        CIV_CU(cudaMemsetAsync(g->d_max_bits, 0, sizeof(unsigned), g->stream));
    }
    {
        Range r("civitas: attend");
        k_attend<<<blocks, kBlock, 0, g->stream>>>(g->d_model, *pol, g->seed, g->d_table, g->a, g->g, day, g->lim,
                                                   g->d_fault);
        if (check_launch(g, "k_attend", err, err_len)) return -1;
    }
    {
        Range r("civitas: community mixing (cuBLAS)");
        const uint32_t nt = g->n_tracts * CIV_N_PREM;
        const unsigned tb = (nt + kBlock - 1) / kBlock;
        k_sums_to_double<<<tb, kBlock, 0, g->stream>>>(g->g.tract_sum, g->d_S, nt);
        if (check_launch(g, "k_sums_to_double", err, err_len)) return -1;
        if (dgemm(g, civ_level_sum_gemm(g->n_tracts), g->d_S, g->d_member, g->d_L, "level sums", err, err_len) ||
            check_launch(g, "cublasDgemm(level sums)", err, err_len))
            return -1;
        k_mix_rate<<<tb, kBlock, 0, g->stream>>>(g->d_model, g->g.tract_sum, g->d_tract_count, g->d_tract_borough,
                                                 g->d_L, g->d_level_count, g->d_mix_rate, g->d_max_bits, nt);
        if (check_launch(g, "k_mix_rate", err, err_len)) return -1;
        k_mix_quantize<<<tb, kBlock, 0, g->stream>>>(g->d_mix_rate, g->d_max_bits, g->d_RQ, nt);
        if (check_launch(g, "k_mix_quantize", err, err_len)) return -1;
        if (dgemm(g, civ_mix_gemm(g->n_tracts), g->d_Cq, g->d_RQ, g->d_P, "contact matrix x rates", err, err_len) ||
            check_launch(g, "cublasDgemm(contact matrix x rates)", err, err_len))
            return -1;
        const float scale = g->w_community * pol->community_factor;   // as on the CPU
        k_mix_pressure<<<tb, kBlock, 0, g->stream>>>(g->d_P, g->d_max_bits, g->matrix_shift, scale,
                                                     const_cast<float *>(g->g.community_pressure), nt);
        if (check_launch(g, "k_mix_pressure", err, err_len)) return -1;
    }
    {
        Range r("civitas: transmit and progress");
        k_transmit_progress<<<g->update_blocks, kBlock, nv * sizeof(int), g->stream>>>(
            g->d_model, *pol, g->seed, g->d_table, g->a, g->g, day, g->d_out_band, g->nb, g->d_series, g->lim, g->d_fault);
        if (check_launch(g, "k_transmit_progress", err, err_len)) return -1;
    }
    {
        Range r("civitas: series to host (queued)");
        CIV_CU(cudaMemcpyAsync(g->h_series, g->d_series, nv * sizeof(int), cudaMemcpyDeviceToHost, g->stream));
        CIV_CU(cudaEventRecord(g->series_ready, g->stream));
    }
    return 0;
}

extern "C" int civ_cuda_complete(civ_cuda_engine *g, int32_t *series, char *err, size_t err_len)
{
    Range r("civitas: wait for day");
    CIV_CU(cudaSetDevice(g->device));
    // a fault in any of the day's kernels surfaces here
    CIV_CU(cudaEventSynchronize(g->series_ready));
    memcpy(series, g->h_series, (size_t)V_NVARS * CIV_NBOROUGH * g->nb * sizeof(int));
    return 0;
}

extern "C" int civ_cuda_download(civ_cuda_engine *g, uint8_t *stage, uint8_t *course, uint8_t *flags, uint8_t *labour,
                                 int16_t *infected_day, int16_t *next_day, int16_t *test_day, int16_t *iso_until,
                                 char *err, size_t err_len)
{
    Range r("civitas: state to host");
    const size_t n = g->n;
    CIV_CU(cudaSetDevice(g->device));
    CIV_CU(cudaStreamSynchronize(g->stream));   // the state after the last launched day
    CIV_CU(cudaMemcpy(stage, g->a.stage, n, cudaMemcpyDeviceToHost));
    CIV_CU(cudaMemcpy(course, g->a.course, n, cudaMemcpyDeviceToHost));
    CIV_CU(cudaMemcpy(flags, g->a.flags, n, cudaMemcpyDeviceToHost));
    CIV_CU(cudaMemcpy(labour, g->a.labour, n, cudaMemcpyDeviceToHost));
    CIV_CU(cudaMemcpy(infected_day, g->a.infected_day, n * 2, cudaMemcpyDeviceToHost));
    CIV_CU(cudaMemcpy(next_day, g->a.next_day, n * 2, cudaMemcpyDeviceToHost));
    CIV_CU(cudaMemcpy(test_day, g->a.test_day, n * 2, cudaMemcpyDeviceToHost));
    CIV_CU(cudaMemcpy(iso_until, g->a.iso_until, n * 2, cudaMemcpyDeviceToHost));
    return 0;
}

extern "C" int civ_cuda_download_pressure(civ_cuda_engine *g, float *pressure, char *err, size_t err_len)
{
    CIV_CU(cudaSetDevice(g->device));
    CIV_CU(cudaStreamSynchronize(g->stream));
    CIV_CU(cudaMemcpy(pressure, g->g.community_pressure, (size_t)g->n_tracts * CIV_N_PREM * sizeof(float),
                      cudaMemcpyDeviceToHost));
    return 0;
}

extern "C" void civ_cuda_destroy(civ_cuda_engine *g)
{
    if (!g) return;
    cudaSetDevice(g->device);
    // queued kernels and copies may still use the buffers: wait before freeing
    if (g->stream) cudaStreamSynchronize(g->stream);
    for (int k = 0; k < g->n_allocs; k++) cudaFree(g->allocs[k]);
    if (g->blas) g->blas_lib->destroy(g->blas);
    if (g->h_series) cudaFreeHost(g->h_series);
    if (g->h_table) cudaFreeHost(g->h_table);
    if (g->series_ready) cudaEventDestroy(g->series_ready);
    if (g->table_copied) cudaEventDestroy(g->table_copied);
    if (g->stream) cudaStreamDestroy(g->stream);
    delete g;
}
