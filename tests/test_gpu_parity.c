/* CPU vs GPU: the same study and seed must give identical series every day
 * and identical agent state at the end. Needs a CUDA device: without one it
 * prints the reason and exits 77, which CTest reports as skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/engine/engine.h"
#include "host/workflows/run.h"
#include "tests/sim_fixture.h"
#ifdef CIVITAS_HAVE_CUDA
#include "cuda/backend_cuda.h"
#endif

#define SRC CIVITAS_SOURCE_DIR

#ifdef CIVITAS_HAVE_CUDA
static int open_sim(sim *m, const char *study, double scale, long steps, long long seed, civ_backend b)
{
    civ_error err = {0};
    if (sim_load(m, study, scale, steps, seed, 4, b, &err)) {
        fprintf(stderr, "FAIL: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* min_infections: the compared runs must have had an epidemic (identical runs without transmission
 * would prove little about the transmission passes). */
static int compare(const char *label, const char *study, double scale, long steps, long long seed,
                   int64_t min_infections)
{
    sim c, g;
    if (open_sim(&c, study, scale, steps, seed, CIV_BACKEND_CPU) || open_sim(&g, study, scale, steps, seed, CIV_BACKEND_CUDA))
        return 1;
    const size_t nv = (size_t)CIV_N_VARS * CIV_NBOROUGH * c.e.n_out_bands;
    int64_t infections = 0;
    civ_error err = {0};
    const size_t np = (size_t)c.pop.n_tracts * CIV_N_PREM;
    float *pressure = civ_xmalloc(np * sizeof(float)), *cpu_pressure = civ_xmalloc(np * sizeof(float));
    for (long d = 0; d < c.s.steps; d++) {
        if (civ_engine_step(&c.e, &err) || civ_engine_step(&g.e, &err)) {
            fprintf(stderr, "FAIL %s: %s\n", label, err.msg);
            return 1;
        }
        /* the community pressure itself, not only its effect on the draws (a small difference in the
           mixing would rarely flip one) */
        if (civ_engine_pressure(&g.e, pressure, &err)) {
            fprintf(stderr, "FAIL %s: %s\n", label, err.msg);
            return 1;
        }
        if (civ_engine_pressure(&c.e, cpu_pressure, &err)) {
            fprintf(stderr, "FAIL %s: %s\n", label, err.msg);
            return 1;
        }
        for (size_t j = 0; j < np; j++)
            if (memcmp(&pressure[j], &cpu_pressure[j], sizeof(float)) != 0) {
                fprintf(stderr, "FAIL %s: day %ld, community pressure [tract %zu][band %zu]: cpu %.9g, gpu %.9g\n",
                        label, d, j / CIV_N_PREM, j % CIV_N_PREM, cpu_pressure[j], pressure[j]);
                return 1;
            }
        if (memcmp(c.e.series, g.e.series, nv * sizeof(int32_t)) != 0) {
            for (size_t k = 0; k < nv; k++)
                if (c.e.series[k] != g.e.series[k]) {
                    fprintf(stderr, "FAIL %s: day %ld, %s[borough %zu][band %zu]: cpu %d, gpu %d\n", label, d,
                            civ_var_name[k / (CIV_NBOROUGH * c.e.n_out_bands)], (k / c.e.n_out_bands) % CIV_NBOROUGH,
                            k % c.e.n_out_bands, c.e.series[k], g.e.series[k]);
                    break;
                }
            return 1;
        }
        infections += civ_engine_total(&c.e, CIV_VAR_NEW_INFECTIONS);
    }
    if (civ_engine_sync_agents(&g.e, &err)) { fprintf(stderr, "FAIL %s: %s\n", label, err.msg); return 1; }
    const uint32_t n = c.pop.n_agents;
    int same = 1;
    const char *differs = "";
#define CIV_COMPARE_DYNAMIC(type, name, kind, init, snap, doc)                                          \
    if (CIV_AGENT_DYNAMIC_##kind && same && memcmp(c.e.a.name, g.e.a.name, (size_t)n * sizeof(type))) { \
        same = 0;                                                                                        \
        differs = " (" #name ")";                                                                        \
    }
    CIV_AGENT_FIELDS(CIV_COMPARE_DYNAMIC)
#undef CIV_COMPARE_DYNAMIC
    printf("%s %s: %u agents, %d days, %lld infections: community pressure and series %s, final agent state %s%s\n",
           same ? "ok" : "FAIL", label, n, c.s.steps, (long long)infections, "identical", same ? "identical" : "DIFFERENT",
           differs);
    free(pressure);
    free(cpu_pressure);
    sim_close(&c);
    sim_close(&g);
    if (infections < min_infections) {
        fprintf(stderr, "FAIL %s: only %lld infections (at least %lld expected): the runs compared had no epidemic\n",
                label, (long long)infections, (long long)min_infections);
        return 1;
    }
    return same ? 0 : 1;
}

#endif

int main(void)
{
#ifndef CIVITAS_HAVE_CUDA
    printf("SKIPPED: GPU parity needs a build with CUDA (configured without nvcc, or with -DCIVITAS_ENABLE_CUDA=OFF)\n");
    return 77;
#else
    char name[128] = "", why[256] = "";
    if (civ_cuda_device_count(name, sizeof name, why, sizeof why) == 0) {
        printf("SKIPPED: GPU parity needs a CUDA device: %s\n", why);
        return 77;
    }
    printf("device: %s\n", name);
    int fails = 0;
    /* minimum infections: about a quarter of what the CPU backend gave when this was written
       (18,761, 19,604, 99,261, 131,349, 65,512 and 29,170 infections) */
    fails += compare("nyc2020 seed 1", SRC "/models/covid/nyc2020.json", 0.02, 60, 1, 5000);
    fails += compare("nyc2020 seed 2", SRC "/models/covid/nyc2020.json", 0.02, 60, 2, 5000);
    /* the calibrated study: exposure outside the home by group and older adults' distancing, its own parameters */
    fails += compare("nyc2020_calibrated seed 7", SRC "/models/covid/nyc2020_calibrated.json", 0.02, 60, 7, 5000);
    /* each borough's access to testing: seek and screening probabilities by borough of residence */
    fails += compare("testing access seed 8", SRC "/tests/data/testing_access.json", 0.02, 60, 8, 5000);
    fails += compare("free epidemic", SRC "/tests/data/free.json", 0.02, 40, 3, 25000);
    fails += compare("sir limit", SRC "/tests/data/sir.json", 0.02, 80, 4, 30000);
    fails += compare("nyc2020 1M agents", SRC "/models/covid/nyc2020.json", 1e6 / 8443713.0, 30, 5, 15000);
    fails += compare("nyc2020 full city, 10 days", SRC "/models/covid/nyc2020.json", 1.0, 10, 6, 7000);
    return fails ? 1 : 0;
#endif
}
