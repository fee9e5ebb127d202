// CUDA backend: device-resident agent state, one kernel per pass of a day.
// The kernels call the pass bodies of models/covid/covid_step.h, the same code
// the OpenMP loops run; group sums and tallies are integer atomics, so the
// results are the CPU backend's to the last count. No cuBLAS in the decision
// path: the community mixing product is 16x16 per tract and its float sum must
// run in the CPU's order for parity, so it is a plain kernel (civ_tract_pressure).
#include <cstdio>
#include <cstring>
#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>

#include "cuda/cuda_backend.h"
#include "models/covid/covid_step.h"

namespace {

nvtxDomainHandle_t nvtx_domain()
{
    static nvtxDomainHandle_t d = nvtxDomainCreateA("civitas");
    return d;
}

struct Range {
    explicit Range(const char *name)
    {
        nvtxEventAttributes_t a;
        memset(&a, 0, sizeof a);
        a.version = NVTX_VERSION;
        a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
        a.messageType = NVTX_MESSAGE_TYPE_ASCII;
        a.message.ascii = name;
        nvtxDomainRangePushEx(nvtx_domain(), &a);
    }
    ~Range() { nvtxDomainRangePop(nvtx_domain()); }
};

#define CIV_CU(call)                                                                             \
    do {                                                                                         \
        cudaError_t rc_ = (call);                                                                \
        if (rc_ != cudaSuccess) {                                                                \
            snprintf(err, err_len, "%s failed: %s", #call, cudaGetErrorString(rc_));             \
            return -1;                                                                           \
        }                                                                                        \
    } while (0)

constexpr int kBlock = 256;

__global__ void k_attend(const civ_covid_params *m, civ_policy pol, uint64_t seed, const float *table,
                         civ_agents a, civ_groups g, int day)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < a.n) civ_pass_attend(m, &pol, seed, table, &a, &g, i, day);
}

// rates[b][k] for boroughs b = 0..4, rates[5][k] for the city: one block per (level, band), an exact
// integer reduction over tracts (order-free), converted once as on the CPU.
__global__ void k_level_rates(const uint64_t *tract_sum, const uint32_t *tract_count, const uint8_t *tract_borough,
                              uint32_t n_tracts, float *rates)
{
    __shared__ unsigned long long s_sum[kBlock], s_cnt[kBlock];
    const int j = blockIdx.x, b = j / CIV_N_PREM, k = j % CIV_N_PREM;
    unsigned long long sum = 0, cnt = 0;
    for (uint32_t t = threadIdx.x; t < n_tracts; t += blockDim.x) {
        if (b < CIV_NBOROUGH && tract_borough[t] != b) continue;
        sum += tract_sum[t * CIV_N_PREM + k];
        cnt += tract_count[t * CIV_N_PREM + k];
    }
    s_sum[threadIdx.x] = sum;
    s_cnt[threadIdx.x] = cnt;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if (threadIdx.x < w) { s_sum[threadIdx.x] += s_sum[threadIdx.x + w]; s_cnt[threadIdx.x] += s_cnt[threadIdx.x + w]; }
        __syncthreads();
    }
    if (threadIdx.x == 0) rates[j] = civ_rate_from_totals(s_sum[0], s_cnt[0]);
}

__global__ void k_tract_pressure(const civ_covid_params *m, civ_policy pol, civ_groups g, const uint32_t *tract_count,
                                 const uint8_t *tract_borough, const float *rates, float *pressure, uint32_t n_tracts)
{
    uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n_tracts) return;
    civ_tract_pressure(m, &pol, &g, tract_count, rates + tract_borough[t] * CIV_N_PREM,
                       rates + CIV_NBOROUGH * CIV_N_PREM, pressure, t);
}

__global__ void k_update(const civ_covid_params *m, civ_policy pol, uint64_t seed, const float *table, civ_agents a,
                         civ_groups g, int day, const uint8_t *out_band_of_age, int nb, int *series)
{
    extern __shared__ int counts[];
    const int nv = V_NVARS * CIV_NBOROUGH * nb;
    for (int k = threadIdx.x; k < nv; k += blockDim.x) counts[k] = 0;
    __syncthreads();
    // grid-stride: few blocks, so few block-to-global counter flushes
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += gridDim.x * blockDim.x) {
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

struct civ_cuda_engine {
    uint32_t n, n_households, n_places, n_tracts;
    int nb, n_arch;
    unsigned update_blocks;   // grid of k_update: 4 blocks per multiprocessor
    uint64_t seed;
    civ_covid_params *d_model;
    civ_agents a;           // device pointers
    civ_groups g;           // device pointers
    uint8_t *d_tract_borough, *d_out_band;
    uint32_t *d_tract_count;
    float *d_rates, *d_table;
    float *h_table;             // pinned staging of the decision table
    int *d_series, *h_series;   // h_series: pinned
    cudaStream_t stream;
    cudaEvent_t series_ready;   // the launched day's series are in h_series
    cudaEvent_t table_copied;   // h_table may be overwritten
    bool table_pending;         // a table copy was queued after table_copied was last waited on
    bool launched;
    void *allocs[40];
    int n_allocs;
};

static size_t agent_bytes() { return 1 + 1 + 2 + 2 + 4 + 4 + 4 * 1 + 4 * 2 + 1; }

extern "C" size_t civ_cuda_bytes_needed(const civ_cuda_setup *s)
{
    return (size_t)s->n_agents * agent_bytes() + (size_t)s->n_households * 8 + (size_t)s->n_places * (8 + 4 + 1) +
           (size_t)s->n_tracts * CIV_N_PREM * (8 + 4 + 4) + s->n_tracts + sizeof(civ_covid_params) +
           (size_t)s->n_archetypes * CIV_N_DECISION * 4 + (size_t)V_NVARS * CIV_NBOROUGH * s->n_out_bands * 4 + 4096;
}

template <typename T>
static int dev_copy(civ_cuda_engine *g, T **dst, const T *src, size_t count, const char *what, char *err, size_t err_len)
{
    size_t bytes = count * sizeof(T);
    if (bytes == 0) bytes = sizeof(T);
    void *p = nullptr;
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
    size_t need = civ_cuda_bytes_needed(s);
    if (need > free_b) {
        snprintf(err, err_len, "the population needs %.1f MiB of device memory but %.1f MiB of %.1f MiB are free; "
                 "use a smaller --scale or a larger GPU", need / 1048576.0, free_b / 1048576.0, total_b / 1048576.0);
        return nullptr;
    }
    civ_cuda_engine *g = new civ_cuda_engine();
    g->n = s->n_agents; g->n_households = s->n_households; g->n_places = s->n_places; g->n_tracts = s->n_tracts;
    g->nb = s->n_out_bands; g->n_arch = s->n_archetypes; g->seed = s->seed;
    int sms = 0;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, s->device) != cudaSuccess || sms <= 0) sms = 132;
    g->update_blocks = (unsigned)(4 * sms);
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
        dev_copy<float>(g, &g->d_rates, nullptr, (CIV_NBOROUGH + 1) * CIV_N_PREM, "rates", err, err_len) == 0 &&
        dev_copy<float>(g, &g->d_table, nullptr, (size_t)s->n_archetypes * CIV_N_DECISION, "table", err, err_len) == 0 &&
        dev_copy<int>(g, &g->d_series, nullptr, (size_t)V_NVARS * CIV_NBOROUGH * s->n_out_bands, "series", err, err_len) == 0;
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
    const size_t bytes = (size_t)g->n_arch * CIV_N_DECISION * sizeof(float);
    // The staging buffer is reused only once its last copy has left it (days ago at any refresh
    // interval: this wait returns at once). The host never waits for the kernels.
    if (g->table_pending) CIV_CU(cudaEventSynchronize(g->table_copied));
    memcpy(g->h_table, table, bytes);
    // stream-ordered: the next day's kernels see the new table, the previous day's the old one
    CIV_CU(cudaMemcpyAsync(g->d_table, g->h_table, bytes, cudaMemcpyHostToDevice, g->stream));
    CIV_CU(cudaEventRecord(g->table_copied, g->stream));
    g->table_pending = true;
    return 0;
}

extern "C" int civ_cuda_launch(civ_cuda_engine *g, const civ_policy *pol, int day, char *err, size_t err_len)
{
    Range day_range("civitas: launch day");
    const size_t nv = (size_t)V_NVARS * CIV_NBOROUGH * g->nb;
    const unsigned blocks = (unsigned)((g->n + kBlock - 1) / kBlock);
    {
        Range r("civitas: clear sums");
        CIV_CU(cudaMemsetAsync(g->g.household_sum, 0, (size_t)g->n_households * 8, g->stream));
        CIV_CU(cudaMemsetAsync(g->g.place_sum, 0, (size_t)(g->n_places ? g->n_places : 1) * 8, g->stream));
        CIV_CU(cudaMemsetAsync(g->g.tract_sum, 0, (size_t)g->n_tracts * CIV_N_PREM * 8, g->stream));
        CIV_CU(cudaMemsetAsync(g->d_series, 0, nv * sizeof(int), g->stream));
    }
    {
        Range r("civitas: attend");
        k_attend<<<blocks, kBlock, 0, g->stream>>>(g->d_model, *pol, g->seed, g->d_table, g->a, g->g, day);
        CIV_CU(cudaGetLastError());
    }
    {
        Range r("civitas: community pressure");
        k_level_rates<<<(CIV_NBOROUGH + 1) * CIV_N_PREM, kBlock, 0, g->stream>>>(g->g.tract_sum, g->d_tract_count, g->d_tract_borough, g->n_tracts, g->d_rates);
        CIV_CU(cudaGetLastError());
        k_tract_pressure<<<(g->n_tracts + 127) / 128, 128, 0, g->stream>>>(
            g->d_model, *pol, g->g, g->d_tract_count, g->d_tract_borough, g->d_rates,
            const_cast<float *>(g->g.community_pressure), g->n_tracts);
        CIV_CU(cudaGetLastError());
    }
    {
        Range r("civitas: transmit and progress");
        k_update<<<g->update_blocks, kBlock, nv * sizeof(int), g->stream>>>(g->d_model, *pol, g->seed, g->d_table, g->a, g->g,
                                                                  day, g->d_out_band, g->nb, g->d_series);
        CIV_CU(cudaGetLastError());
    }
    {
        Range r("civitas: series to host (queued)");
        CIV_CU(cudaMemcpyAsync(g->h_series, g->d_series, nv * sizeof(int), cudaMemcpyDeviceToHost, g->stream));
        CIV_CU(cudaEventRecord(g->series_ready, g->stream));
    }
    g->launched = true;
    return 0;
}

extern "C" int civ_cuda_complete(civ_cuda_engine *g, int32_t *series, char *err, size_t err_len)
{
    Range r("civitas: wait for day");
    if (!g->launched) {
        snprintf(err, err_len, "civ_cuda_complete: no day launched (internal error)");
        return -1;
    }
    g->launched = false;
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

extern "C" void civ_cuda_destroy(civ_cuda_engine *g)
{
    if (!g) return;
    for (int k = 0; k < g->n_allocs; k++) cudaFree(g->allocs[k]);
    if (g->stream) cudaStreamSynchronize(g->stream);
    if (g->h_series) cudaFreeHost(g->h_series);
    if (g->h_table) cudaFreeHost(g->h_table);
    if (g->series_ready) cudaEventDestroy(g->series_ready);
    if (g->table_copied) cudaEventDestroy(g->table_copied);
    if (g->stream) cudaStreamDestroy(g->stream);
    delete g;
}
