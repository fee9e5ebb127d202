/* The CPU backend: the passes of covid_step.h as OpenMP loops over the engine's own agent arrays.
 * Group sums are integer atomics and the day's tallies are per-thread integer counters summed in a
 * fixed order, so the results do not depend on the number of threads. */
#include "host/engine/backend_cpu.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

struct civ_backend_state {
    civ_world w;
    civ_groups g;
    uint64_t *household_sum, *place_sum, *tract_sum;
    float *community_pressure;   /* [tract][band] */
    float *mix_rate;             /* [tract][band]: the day's mixed rates (scratch) */
    float *table;                /* decision table in force */
    int64_t *thread_counts;      /* [threads][series values] */
    int n_values;                /* series values: CIV_N_VARS x boroughs x output bands */
    int threads;
};

static civ_status cpu_create(const civ_world *w, civ_backend_state **out, civ_error *err)
{
    (void)err;
    civ_backend_state *b = civ_xcalloc(1, sizeof *b);
    b->w = *w;
    b->threads = w->threads > 0 ? w->threads : 1;
    b->n_values = CIV_N_VARS * CIV_NBOROUGH * w->n_out_bands;
    const size_t tract_bands = (size_t)w->n_tracts * CIV_N_PREM;
    b->household_sum = civ_xcalloc(w->n_households ? w->n_households : 1, sizeof(uint64_t));
    b->place_sum = civ_xcalloc(w->n_places ? w->n_places : 1, sizeof(uint64_t));
    b->tract_sum = civ_xcalloc(tract_bands, sizeof(uint64_t));
    b->community_pressure = civ_xcalloc(tract_bands, sizeof(float));
    b->mix_rate = civ_xcalloc(tract_bands, sizeof(float));
    b->table = civ_xcalloc((size_t)(w->n_archetypes ? w->n_archetypes : 1) * CIV_N_DECISION, sizeof(float));
    b->thread_counts = civ_xcalloc((size_t)b->threads * (size_t)b->n_values, sizeof(int64_t));
    b->g = (civ_groups){b->household_sum, b->place_sum, b->tract_sum, b->community_pressure};
    *out = b;
    return CIV_OK;
}

static civ_status cpu_upload_table(civ_backend_state *b, const float *table, civ_error *err)
{
    (void)err;
    memcpy(b->table, table, (size_t)b->w.n_archetypes * CIV_N_DECISION * sizeof(float));
    return CIV_OK;
}

/* Community pressure per tract x contactor band (see civ_mix_rate in covid_step.h): the rates, their
 * block exponent, then the exact fixed-point product. */
static void community_pressure(civ_backend_state *b, const civ_policy *pol)
{
    const civ_world *w = &b->w;
    const civ_covid_params *m = w->model;
    const uint32_t nt = w->n_tracts;
    /* level totals in one pass (exact integers), then rates: brate[b] per borough, brate[CIV_NBOROUGH] city */
    uint64_t total[CIV_N_LEVEL_SUMS][CIV_N_PREM] = {{0}};
    for (uint32_t t = 0; t < nt; t++)
        for (int k = 0; k < CIV_N_PREM; k++) {
            total[w->tract_borough[t]][k] += b->tract_sum[(size_t)t * CIV_N_PREM + k];
            total[CIV_NBOROUGH][k] += b->tract_sum[(size_t)t * CIV_N_PREM + k];
        }
    float brate[CIV_N_LEVEL_SUMS][CIV_N_PREM];
    for (int l = 0; l < CIV_N_LEVEL_SUMS; l++)
        for (int k = 0; k < CIV_N_PREM; k++)
            brate[l][k] = civ_rate_from_totals(total[l][k], w->level_count[l * CIV_N_PREM + k]);
    const float *crate = brate[CIV_NBOROUGH];
    float max = 0.0f;
    #pragma omp parallel for schedule(static) num_threads(b->threads) reduction(max : max)
    for (uint32_t t = 0; t < nt; t++)
        for (int k = 0; k < CIV_N_PREM; k++) {
            const size_t j = (size_t)t * CIV_N_PREM + k;
            float r = civ_mix_rate(m, b->tract_sum[j], w->tract_count[j], brate[w->tract_borough[t]][k], crate[k]);
            b->mix_rate[j] = r;
            if (r > max) max = r;
        }
    const int shift = civ_mix_shift(max, CIV_MIX_RATE_BITS);
    const double p = civ_pow2(shift);
    #pragma omp parallel for schedule(static) num_threads(b->threads)
    for (uint32_t t = 0; t < nt; t++) {
        const float scale = m->w_community * pol->community_factor[w->tract_borough[t]];
        int64_t rq[CIV_N_PREM];
        for (int k = 0; k < CIV_N_PREM; k++) rq[k] = (int64_t)civ_mix_quantize(b->mix_rate[(size_t)t * CIV_N_PREM + k], p);
        for (int a = 0; a < CIV_N_PREM; a++) {
            int64_t acc = 0;
            for (int k = 0; k < CIV_N_PREM; k++) acc += (int64_t)m->community_q[a][k] * rq[k];
            b->community_pressure[(size_t)t * CIV_N_PREM + a] =
                civ_mix_pressure((double)acc, m->community_q_shift + shift, scale);
        }
    }
}

/* The whole day runs here; complete_day only sums the threads' tallies. */
static civ_status cpu_launch_day(civ_backend_state *b, const civ_policy *policy, int day, civ_error *err)
{
    (void)err;
    const civ_world *w = &b->w;
    const civ_covid_params *m = w->model;
    const civ_agents *a = &w->agents;
    const civ_policy pol = *policy;
    const uint64_t seed = w->seed;
    const float *table = b->table;
    const uint8_t *out_band_of_age = w->out_band_of_age;
    const uint32_t n = a->n;   /* locals: the passes' byte stores may alias anything reached through b */
    const int nb = w->n_out_bands, nv = b->n_values;
    memset(b->household_sum, 0, (w->n_households ? w->n_households : 1) * sizeof(uint64_t));
    memset(b->place_sum, 0, (w->n_places ? w->n_places : 1) * sizeof(uint64_t));
    memset(b->tract_sum, 0, (size_t)w->n_tracts * CIV_N_PREM * sizeof(uint64_t));
    memset(b->thread_counts, 0, (size_t)b->threads * (size_t)nv * sizeof(int64_t));

    #pragma omp parallel for schedule(static) num_threads(b->threads)
    for (uint32_t i = 0; i < n; i++) civ_pass_attend(m, &pol, seed, table, a, &b->g, i, day);

    community_pressure(b, &pol);

    #pragma omp parallel num_threads(b->threads)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        int64_t *cnt = b->thread_counts + (size_t)tid * (size_t)nv;
#define CIV_CPU_INC(idx) cnt[idx]++
        #pragma omp for schedule(static)
        for (uint32_t i = 0; i < n; i++) {
            civ_tally r = civ_pass_update(m, &pol, seed, table, a, &b->g, i, day);
            const int cell = a->borough[i] * nb + out_band_of_age[a->age[i]];
            CIV_TALLY_EACH(r, cell, nb, CIV_CPU_INC);
        }
#undef CIV_CPU_INC
    }
    return CIV_OK;
}

static civ_status cpu_complete_day(civ_backend_state *b, int32_t *series, civ_error *err)
{
    (void)err;
    /* integer reduction in thread order: exact, independent of the thread count */
    for (int k = 0; k < b->n_values; k++) {
        int64_t sum = 0;
        for (int t = 0; t < b->threads; t++) sum += b->thread_counts[(size_t)t * (size_t)b->n_values + k];
        series[k] = (int32_t)sum;
    }
    return CIV_OK;
}

static civ_status cpu_download_agents(civ_backend_state *b, civ_agents *host, civ_error *err)
{
    (void)err;
    /* the passes ran on the engine's own arrays; copy only into other arrays */
#define CIV_COPY_DYNAMIC(type, name, kind, init, snap, doc)                                          \
    if (CIV_AGENT_DYNAMIC_##kind && (const void *)host->name != (const void *)b->w.agents.name)        \
        memcpy((void *)host->name, b->w.agents.name, (size_t)b->w.agents.n * sizeof(type));
    CIV_AGENT_FIELDS(CIV_COPY_DYNAMIC)
#undef CIV_COPY_DYNAMIC
    return CIV_OK;
}

static civ_status cpu_download_pressure(civ_backend_state *b, float *pressure, civ_error *err)
{
    (void)err;
    memcpy(pressure, b->community_pressure, (size_t)b->w.n_tracts * CIV_N_PREM * sizeof(float));
    return CIV_OK;
}

static void cpu_destroy(civ_backend_state *b)
{
    if (!b) return;
    free(b->household_sum); free(b->place_sum); free(b->tract_sum); free(b->community_pressure);
    free(b->mix_rate); free(b->table); free(b->thread_counts);
    free(b);
}

const civ_groups *civ_backend_cpu_groups(const civ_backend_state *b) { return &b->g; }

const civ_backend_ops civ_backend_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .upload_table = cpu_upload_table,
    .launch_day = cpu_launch_day,
    .complete_day = cpu_complete_day,
    .download_agents = cpu_download_agents,
    .download_pressure = cpu_download_pressure,
    .destroy = cpu_destroy,
};
