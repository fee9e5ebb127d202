// The CUDA backend (host/engine/backend.h): device-resident agent state, one kernel per pass of a day.
// The kernels call the pass bodies of models/covid/covid_step.h, the same code the OpenMP loops run;
// group sums and tallies are integer atomics, so the results are the CPU backend's to the last count.
// Community mixing is two cuBLAS DGEMMs (level sums over tracts, contact matrix x rates over all
// tracts) on integer-valued doubles in block fixed point: exact, so the result does not depend on
// cuBLAS's summation order (cuda/mixing_gemm.h). The agents' device arrays are generated from the
// field list of models/covid/covid_agents.h.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cuda_runtime.h>

#include "cuda/backend_cuda.h"
#include "cuda/cublas_lazy.h"
#include "cuda/mixing_gemm.h"
#include "host/core/trace.h"

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
// k_transmit_progress is limited to 40 registers (65536 / (256 x 6)) without spills (nvcc -Xptxas -v, sm_90): more
// resident warps to hide the random reads of group sums.
constexpr int kTransmitMinBlocksPerSM = 6;

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

__global__ void k_mix_pressure(const double *P, const unsigned *max_bits, int matrix_shift, float w_community,
                               civ_policy pol, const uint8_t *tract_borough, float *pressure, uint32_t n)
{
    uint32_t j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    const int shift = civ_mix_shift(__uint_as_float(*max_bits), CIV_MIX_RATE_BITS);
    const float scale = w_community * pol.community_factor[tract_borough[j / CIV_N_PREM]];   // as on the CPU
    pressure[j] = civ_mix_pressure(P[j], matrix_shift + shift, scale);
}

// Pass 3 (transmit and progress) of covid_step.h, with the day's tallies counted per block in shared memory.
__global__ void __launch_bounds__(kBlock, kTransmitMinBlocksPerSM)
k_transmit_progress(const civ_covid_params *m, civ_policy pol, uint64_t seed, const float *table, civ_agents a,
                    civ_groups g, int day, const uint8_t *out_band_of_age, int nb, int *series, civ_index_limits lim,
                    civ_device_fault *fault)
{
    extern __shared__ int counts[];
    const int nv = CIV_N_VARS * CIV_NBOROUGH * nb;
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

struct civ_backend_state {
    int device;
    uint32_t n, n_households, n_places, n_tracts;
    int n_bands, n_archetypes;
    size_t n_values;              // series values: CIV_N_VARS x boroughs x output bands
    unsigned transmit_blocks;     // grid of k_transmit_progress: as many blocks as can be resident at once
    bool sync_each_launch;        // CIVITAS_CUDA_SYNC=1: wait after every launch, check indices in the kernels
    civ_index_limits lim;
    civ_device_fault *d_fault;    // nullptr unless sync_each_launch
    uint64_t seed;
    civ_covid_params *d_model;
    civ_agents agents;            // device arrays
    civ_groups groups;            // device arrays
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
    int day;                    // the last launched day, for messages
    void *allocs[64];
    int n_allocs;
};

extern "C" size_t civ_cuda_bytes_needed(const civ_world *w)
{
    return (size_t)w->agents.n * CIV_AGENT_BYTES + (size_t)w->n_households * 8 + (size_t)w->n_places * (8 + 4 + 1) +
           (size_t)w->n_tracts * CIV_N_PREM * (8 + 4 + 4) + w->n_tracts + sizeof(civ_covid_params) +
           (size_t)w->n_archetypes * CIV_N_DECISION * 4 + (size_t)CIV_N_VARS * CIV_NBOROUGH * w->n_out_bands * 4 +
           // mixing: S, RQ, P (double), rates (float) per tract x band; membership; level sums/counts; Cq
           (size_t)w->n_tracts * CIV_N_PREM * (8 + 8 + 8 + 4) + (size_t)w->n_tracts * CIV_N_LEVEL_SUMS * 8 +
           CIV_N_LEVEL_SUMS * CIV_N_PREM * 16 + CIV_N_PREM * CIV_N_PREM * 8 + 4096 +
           ((size_t)32 << 20);   // the cuBLAS handle's workspace (estimate)
}

// Level sums in double must be exact: the city's total infectiousness stays below 2^53.
static int check_exact_sums(const civ_world *w, char *err, size_t err_len)
{
    const civ_covid_params *m = w->model;
    uint64_t fmax = 0, pmax = 0;
    for (int k = 0; k < 3; k++) fmax = m->factor_q[k] > fmax ? m->factor_q[k] : fmax;
    for (int day = 0; day < CIV_MAX_DAYS; day++) pmax = m->profile_q[day] > pmax ? m->profile_q[day] : pmax;
    const double bound = (double)w->agents.n * (double)((fmax * pmax) >> 16);
    if (bound >= 9007199254740992.0) {   // 2^53
        snprintf(err, err_len, "%u agents x the largest infectiousness (%llu in fixed point) can exceed 2^53, the exact "
                 "range of the GPU's double-precision level sums; use fewer agents or smaller infectiousness factors",
                 w->agents.n, (unsigned long long)((fmax * pmax) >> 16));
        return -1;
    }
    return 0;
}

// After a launch: its launch error; with CIVITAS_CUDA_SYNC=1 also the error of the work itself and
// any index fault a kernel recorded, named after `what` (otherwise a fault surfaces at the day's end,
// unattributed).
static int check_launch(const civ_backend_state *d, const char *what, char *err, size_t err_len)
{
    cudaError_t rc = cudaGetLastError();
    if (rc != cudaSuccess) {
        snprintf(err, err_len, "launching %s failed: %s", what, cudaGetErrorString(rc));
        return -1;
    }
    if (!d->sync_each_launch) return 0;
    rc = cudaStreamSynchronize(d->stream);
    if (rc != cudaSuccess) {
        snprintf(err, err_len, "%s failed: %s (found by CIVITAS_CUDA_SYNC=1)", what, cudaGetErrorString(rc));
        return -1;
    }
    civ_device_fault f;
    rc = cudaMemcpy(&f, d->d_fault, sizeof f, cudaMemcpyDeviceToHost);
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

// A device array of `count` elements, filled from `src` when it is given; freed by destroy.
template <typename T>
static int dev_array(civ_backend_state *d, T **dst, const T *src, size_t count, const char *what, char *err,
                     size_t err_len)
{
    size_t bytes = count * sizeof(T);
    if (bytes == 0) bytes = sizeof(T);
    void *p = nullptr;
    if (d->n_allocs == (int)(sizeof d->allocs / sizeof d->allocs[0])) {
        snprintf(err, err_len, "internal error: more device arrays than the CUDA backend holds (%s)", what);
        return -1;
    }
    cudaError_t rc = cudaMalloc(&p, bytes);
    if (rc != cudaSuccess) {
        snprintf(err, err_len, "cudaMalloc(%s, %zu bytes) failed: %s", what, bytes, cudaGetErrorString(rc));
        return -1;
    }
    d->allocs[d->n_allocs++] = p;
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

// The agents' device arrays, one per field of covid_agents.h: staged fields copied from the host.
static int stage_agents(civ_backend_state *d, const civ_agents &host, char *err, size_t err_len)
{
    civ_agents &a = d->agents;
    a.n = host.n;
#define CIV_STAGE_FIELD(type, name, kind, init, snap, doc)                                                         \
    {                                                                                                              \
        type *p = nullptr;                                                                                         \
        if (dev_array<type>(d, &p, CIV_AGENT_STAGED_##kind ? host.name : nullptr, host.n, "agents." #name, err,    \
                            err_len))                                                                              \
            return -1;                                                                                             \
        a.name = p;                                                                                                \
    }
    CIV_AGENT_FIELDS(CIV_STAGE_FIELD)
#undef CIV_STAGE_FIELD
    return 0;
}

// Static inputs of community mixing: borough membership, people per level and band (from the host), the quantized
// contact matrix; and the cuBLAS handle on the backend's stream.
static int stage_mixing(civ_backend_state *d, const civ_world *w, char *err, size_t err_len)
{
    const uint32_t nt = w->n_tracts;
    double *member = new double[(size_t)nt * CIV_N_LEVEL_SUMS]();
    for (uint32_t t = 0; t < nt; t++) {
        member[(size_t)w->tract_borough[t] * nt + t] = 1.0;
        member[(size_t)CIV_NBOROUGH * nt + t] = 1.0;
    }
    double cq[CIV_N_PREM * CIV_N_PREM];   // row-major [a][k]; the GEMM reads it transposed
    for (int a = 0; a < CIV_N_PREM; a++)
        for (int k = 0; k < CIV_N_PREM; k++) cq[a * CIV_N_PREM + k] = (double)w->model->community_q[a][k];
    d->w_community = w->model->w_community;
    d->matrix_shift = w->model->community_q_shift;
    int rc = dev_array(d, &d->d_member, member, (size_t)nt * CIV_N_LEVEL_SUMS, "mixing: membership", err, err_len) ||
             dev_array(d, &d->d_level_count, w->level_count, CIV_N_LEVEL_SUMS * CIV_N_PREM, "mixing: level counts", err,
                       err_len) ||
             dev_array(d, &d->d_Cq, cq, CIV_N_PREM * CIV_N_PREM, "mixing: contact matrix", err, err_len);
    delete[] member;
    if (rc) return -1;
    if (!(d->blas_lib = civ_cublas_load(err, err_len))) return -1;
    const civ_cublas *b = d->blas_lib;
    CIV_CUBLAS(b, create, "cublasCreate", &d->blas);
    CIV_CUBLAS(b, set_stream, "cublasSetStream", d->blas, d->stream);
    // standard IEEE double arithmetic (no emulation); exactness does not depend on it, but say so
    CIV_CUBLAS(b, set_math_mode, "cublasSetMathMode", d->blas, CUBLAS_PEDANTIC_MATH);
    return 0;
}

// One DGEMM of a civ_gemm_shape: C = op(A) . op(B).
static int dgemm(const civ_backend_state *d, const civ_gemm_shape &sh, const double *A, const double *B, double *C,
                 const char *what, char *err, size_t err_len)
{
    const double one = 1.0, zero = 0.0;
    cublasStatus_t rc = d->blas_lib->dgemm(d->blas, op(sh.trans_a), op(sh.trans_b), sh.m, sh.n, sh.k, &one, A, sh.lda,
                                           B, sh.ldb, &zero, C, sh.ldc);
    if (rc != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, err_len, "cublasDgemm(%s) failed: %s", what, d->blas_lib->status_string(rc));
        return -1;
    }
    return 0;
}

static void destroy(civ_backend_state *d)
{
    if (!d) return;
    cudaSetDevice(d->device);
    // queued kernels and copies may still use the buffers: wait before freeing
    if (d->stream) cudaStreamSynchronize(d->stream);
    for (int k = 0; k < d->n_allocs; k++) cudaFree(d->allocs[k]);
    if (d->blas) d->blas_lib->destroy(d->blas);
    if (d->h_series) cudaFreeHost(d->h_series);
    if (d->h_table) cudaFreeHost(d->h_table);
    if (d->series_ready) cudaEventDestroy(d->series_ready);
    if (d->table_copied) cudaEventDestroy(d->table_copied);
    if (d->stream) cudaStreamDestroy(d->stream);
    delete d;
}

static int create(const civ_world *w, civ_backend_state **out, char *err, size_t err_len)
{
    Range r("civitas: stage to device");
    *out = nullptr;
    size_t free_b = 0, total_b = 0;
    CIV_CU(cudaSetDevice(w->device));
    CIV_CU(cudaMemGetInfo(&free_b, &total_b));
    if (check_exact_sums(w, err, err_len)) return -1;
    const size_t need = civ_cuda_bytes_needed(w);
    if (need > free_b) {
        snprintf(err, err_len, "the population needs %.1f MiB of device memory but %.1f MiB of %.1f MiB are free; "
                 "use a smaller --scale or a larger GPU", need / 1048576.0, free_b / 1048576.0, total_b / 1048576.0);
        return -1;
    }
    civ_backend_state *d = new civ_backend_state();
    *out = d;   // destroyed by the caller on failure
    d->device = w->device;
    const char *sync = getenv("CIVITAS_CUDA_SYNC");
    d->sync_each_launch = sync && *sync && strcmp(sync, "0") != 0;
    d->lim.n_households = w->n_households;
    d->lim.n_places = w->n_places;
    d->lim.n_tracts = w->n_tracts;
    d->lim.n_archetypes = (uint32_t)w->n_archetypes;
    d->n = w->agents.n; d->n_households = w->n_households; d->n_places = w->n_places; d->n_tracts = w->n_tracts;
    d->n_bands = w->n_out_bands; d->n_archetypes = w->n_archetypes; d->seed = w->seed;
    d->n_values = (size_t)CIV_N_VARS * CIV_NBOROUGH * w->n_out_bands;
    int sms = 0, per_sm = 0;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, w->device) != cudaSuccess || sms <= 0) sms = 132;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k_transmit_progress, kBlock,
                                                      d->n_values * sizeof(int)) != cudaSuccess || per_sm <= 0)
        per_sm = 4;
    d->transmit_blocks = (unsigned)(per_sm * sms);
    const size_t tract_bands = (size_t)w->n_tracts * CIV_N_PREM;
    CIV_CU(cudaStreamCreateWithFlags(&d->stream, cudaStreamNonBlocking));
    CIV_CU(cudaEventCreateWithFlags(&d->series_ready, cudaEventDisableTiming));
    CIV_CU(cudaEventCreateWithFlags(&d->table_copied, cudaEventDisableTiming));
    CIV_CU(cudaMallocHost(&d->h_series, d->n_values * sizeof(int)));
    CIV_CU(cudaMallocHost(&d->h_table, (size_t)(w->n_archetypes ? w->n_archetypes : 1) * CIV_N_DECISION * sizeof(float)));
    uint8_t *place_type = nullptr;
    uint32_t *place_size = nullptr;
    float *pressure = nullptr;
    if (stage_agents(d, w->agents, err, err_len) ||
        dev_array(d, &place_type, w->agents.place_type, w->n_places, "place_type", err, err_len) ||
        dev_array(d, &place_size, w->agents.place_size, w->n_places, "place_size", err, err_len) ||
        dev_array<uint64_t>(d, &d->groups.household_sum, nullptr, w->n_households, "household_sum", err, err_len) ||
        dev_array<uint64_t>(d, &d->groups.place_sum, nullptr, w->n_places, "place_sum", err, err_len) ||
        dev_array<uint64_t>(d, &d->groups.tract_sum, nullptr, tract_bands, "tract_sum", err, err_len) ||
        dev_array<float>(d, &pressure, nullptr, tract_bands, "community_pressure", err, err_len) ||
        dev_array(d, &d->d_tract_count, w->tract_count, tract_bands, "tract_count", err, err_len) ||
        dev_array(d, &d->d_tract_borough, w->tract_borough, w->n_tracts, "tract_borough", err, err_len) ||
        dev_array(d, &d->d_out_band, w->out_band_of_age, CIV_MAX_AGE + 1, "out_band_of_age", err, err_len) ||
        dev_array(d, &d->d_model, w->model, 1, "model", err, err_len) ||
        dev_array<double>(d, &d->d_S, nullptr, tract_bands, "mixing: tract sums", err, err_len) ||
        dev_array<double>(d, &d->d_RQ, nullptr, tract_bands, "mixing: quantized rates", err, err_len) ||
        dev_array<double>(d, &d->d_P, nullptr, tract_bands, "mixing: product", err, err_len) ||
        dev_array<float>(d, &d->d_mix_rate, nullptr, tract_bands, "mixing: rates", err, err_len) ||
        dev_array<double>(d, &d->d_L, nullptr, CIV_N_LEVEL_SUMS * CIV_N_PREM, "mixing: level sums", err, err_len) ||
        dev_array<unsigned>(d, &d->d_max_bits, nullptr, 1, "mixing: maximum rate", err, err_len) ||
        dev_array<float>(d, &d->d_table, nullptr, (size_t)w->n_archetypes * CIV_N_DECISION, "table", err, err_len) ||
        dev_array<int>(d, &d->d_series, nullptr, d->n_values, "series", err, err_len) ||
        (d->sync_each_launch && dev_array<civ_device_fault>(d, &d->d_fault, nullptr, 1, "index check", err, err_len)))
        return -1;
    d->agents.place_type = place_type;
    d->agents.place_size = place_size;
    d->groups.community_pressure = pressure;
    if (d->d_fault) CIV_CU(cudaMemset(d->d_fault, 0, sizeof(civ_device_fault)));
    if (stage_mixing(d, w, err, err_len)) return -1;
    // cudaMemcpy from pageable memory may return before its DMA lands; the work stream does not
    // synchronise with the legacy stream, so the staging must be complete before the first launch
    CIV_CU(cudaDeviceSynchronize());
    return 0;
}

static int upload_table(civ_backend_state *d, const float *table, char *err, size_t err_len)
{
    Range r("civitas: table upload");
    CIV_CU(cudaSetDevice(d->device));
    const size_t bytes = (size_t)d->n_archetypes * CIV_N_DECISION * sizeof(float);
    // The staging buffer is reused only once its last copy has left it (days ago at any refresh
    // interval, and at once before the first upload: the event is unrecorded). The host never waits
    // for the kernels.
    CIV_CU(cudaEventSynchronize(d->table_copied));
    memcpy(d->h_table, table, bytes);
    // stream-ordered: the next day's kernels see the new table, the previous day's the old one
    CIV_CU(cudaMemcpyAsync(d->d_table, d->h_table, bytes, cudaMemcpyHostToDevice, d->stream));
    CIV_CU(cudaEventRecord(d->table_copied, d->stream));
    return 0;
}

static int launch_day(civ_backend_state *d, const civ_policy *pol, int day, char *err, size_t err_len)
{
    Range day_range("civitas: launch day");
    CIV_CU(cudaSetDevice(d->device));
    const unsigned agent_blocks = (unsigned)((d->n + kBlock - 1) / kBlock);
    {
        Range r("civitas: clear sums");
        CIV_CU(cudaMemsetAsync(d->groups.household_sum, 0, (size_t)d->n_households * 8, d->stream));
        CIV_CU(cudaMemsetAsync(d->groups.place_sum, 0, (size_t)(d->n_places ? d->n_places : 1) * 8, d->stream));
        CIV_CU(cudaMemsetAsync(d->groups.tract_sum, 0, (size_t)d->n_tracts * CIV_N_PREM * 8, d->stream));
        CIV_CU(cudaMemsetAsync(d->d_series, 0, d->n_values * sizeof(int), d->stream));
        CIV_CU(cudaMemsetAsync(d->d_max_bits, 0, sizeof(unsigned), d->stream));
    }
    {
        Range r("civitas: attend");
        k_attend<<<agent_blocks, kBlock, 0, d->stream>>>(d->d_model, *pol, d->seed, d->d_table, d->agents, d->groups,
                                                         day, d->lim, d->d_fault);
        if (check_launch(d, "k_attend", err, err_len)) return -1;
    }
    {
        Range r("civitas: community mixing (cuBLAS)");
        const uint32_t tract_bands = d->n_tracts * CIV_N_PREM;
        const unsigned tract_blocks = (tract_bands + kBlock - 1) / kBlock;
        k_sums_to_double<<<tract_blocks, kBlock, 0, d->stream>>>(d->groups.tract_sum, d->d_S, tract_bands);
        if (check_launch(d, "k_sums_to_double", err, err_len)) return -1;
        if (dgemm(d, civ_level_sum_gemm(d->n_tracts), d->d_S, d->d_member, d->d_L, "level sums", err, err_len) ||
            check_launch(d, "cublasDgemm(level sums)", err, err_len))
            return -1;
        k_mix_rate<<<tract_blocks, kBlock, 0, d->stream>>>(d->d_model, d->groups.tract_sum, d->d_tract_count,
                                                           d->d_tract_borough, d->d_L, d->d_level_count, d->d_mix_rate,
                                                           d->d_max_bits, tract_bands);
        if (check_launch(d, "k_mix_rate", err, err_len)) return -1;
        k_mix_quantize<<<tract_blocks, kBlock, 0, d->stream>>>(d->d_mix_rate, d->d_max_bits, d->d_RQ, tract_bands);
        if (check_launch(d, "k_mix_quantize", err, err_len)) return -1;
        if (dgemm(d, civ_mix_gemm(d->n_tracts), d->d_Cq, d->d_RQ, d->d_P, "contact matrix x rates", err, err_len) ||
            check_launch(d, "cublasDgemm(contact matrix x rates)", err, err_len))
            return -1;
        k_mix_pressure<<<tract_blocks, kBlock, 0, d->stream>>>(d->d_P, d->d_max_bits, d->matrix_shift, d->w_community,
                                                               *pol, d->d_tract_borough,
                                                               const_cast<float *>(d->groups.community_pressure),
                                                               tract_bands);
        if (check_launch(d, "k_mix_pressure", err, err_len)) return -1;
    }
    {
        Range r("civitas: transmit and progress");
        k_transmit_progress<<<d->transmit_blocks, kBlock, d->n_values * sizeof(int), d->stream>>>(
            d->d_model, *pol, d->seed, d->d_table, d->agents, d->groups, day, d->d_out_band, d->n_bands, d->d_series,
            d->lim, d->d_fault);
        if (check_launch(d, "k_transmit_progress", err, err_len)) return -1;
    }
    {
        Range r("civitas: series to host (queued)");
        CIV_CU(cudaMemcpyAsync(d->h_series, d->d_series, d->n_values * sizeof(int), cudaMemcpyDeviceToHost, d->stream));
        CIV_CU(cudaEventRecord(d->series_ready, d->stream));
    }
    return 0;
}

static int complete_day(civ_backend_state *d, int32_t *series, char *err, size_t err_len)
{
    Range r("civitas: wait for day");
    CIV_CU(cudaSetDevice(d->device));
    // a fault in any of the day's kernels surfaces here
    CIV_CU(cudaEventSynchronize(d->series_ready));
    memcpy(series, d->h_series, d->n_values * sizeof(int));
    return 0;
}

static int download_agents(civ_backend_state *d, civ_agents *host, char *err, size_t err_len)
{
    Range r("civitas: state to host");
    CIV_CU(cudaSetDevice(d->device));
    CIV_CU(cudaStreamSynchronize(d->stream));   // the state after the last launched day
#define CIV_DOWNLOAD_FIELD(type, name, kind, init, snap, doc)                                                  \
    if (CIV_AGENT_DYNAMIC_##kind)                                                                              \
        CIV_CU(cudaMemcpy((void *)host->name, d->agents.name, (size_t)d->n * sizeof(type), cudaMemcpyDeviceToHost));
    CIV_AGENT_FIELDS(CIV_DOWNLOAD_FIELD)
#undef CIV_DOWNLOAD_FIELD
    return 0;
}

static int download_pressure(civ_backend_state *d, float *pressure, char *err, size_t err_len)
{
    CIV_CU(cudaSetDevice(d->device));
    CIV_CU(cudaStreamSynchronize(d->stream));
    CIV_CU(cudaMemcpy(pressure, d->groups.community_pressure, (size_t)d->n_tracts * CIV_N_PREM * sizeof(float),
                      cudaMemcpyDeviceToHost));
    return 0;
}

// ---- the backend operations (host/engine/backend.h) -------------------------------------------

// day < 0: not about one day (table uploads, state copies)
static civ_status cuda_fail(civ_error *err, int day, const char *msg)
{
    if (day >= 0) return civ_fail(err, CIV_ERR_RUNTIME, "CUDA backend, day %d: %s", day, msg);
    return civ_fail(err, CIV_ERR_RUNTIME, "CUDA backend: %s", msg);
}

static civ_status op_create(const civ_world *w, civ_backend_state **state, civ_error *err)
{
    char msg[1024] = "";
    if (create(w, state, msg, sizeof msg) == 0) return CIV_OK;
    destroy(*state);
    *state = nullptr;
    return civ_fail(err, CIV_ERR_UNAVAILABLE, "CUDA backend: %s", msg);
}

static civ_status op_upload_table(civ_backend_state *d, const float *table, civ_error *err)
{
    char msg[1024] = "";
    return upload_table(d, table, msg, sizeof msg) ? cuda_fail(err, -1, msg) : CIV_OK;
}

static civ_status op_launch_day(civ_backend_state *d, const civ_policy *pol, int day, civ_error *err)
{
    char msg[1024] = "";
    d->day = day;
    return launch_day(d, pol, day, msg, sizeof msg) ? cuda_fail(err, day, msg) : CIV_OK;
}

static civ_status op_complete_day(civ_backend_state *d, int32_t *series, civ_error *err)
{
    char msg[1024] = "";
    return complete_day(d, series, msg, sizeof msg) ? cuda_fail(err, d->day, msg) : CIV_OK;
}

static civ_status op_download_agents(civ_backend_state *d, civ_agents *host, civ_error *err)
{
    char msg[1024] = "";
    return download_agents(d, host, msg, sizeof msg) ? cuda_fail(err, -1, msg) : CIV_OK;
}

static civ_status op_download_pressure(civ_backend_state *d, float *pressure, civ_error *err)
{
    char msg[1024] = "";
    return download_pressure(d, pressure, msg, sizeof msg) ? cuda_fail(err, -1, msg) : CIV_OK;
}

extern "C" const civ_backend_ops civ_backend_cuda = {"cuda", op_create, op_upload_table, op_launch_day,
                                                      op_complete_day, op_download_agents, op_download_pressure,
                                                      destroy};
