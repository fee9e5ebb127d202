/* CPU vs GPU: the same study and seed must give identical series every day
 * and identical agent state at the end, over runs with a real epidemic (at
 * least 1% of the agents and 1000 infected: two runs where nothing happens
 * agree trivially). Needs a CUDA device: without one it prints the reason and
 * exits 77, which CTest reports as skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/engine.h"
#include "host/run.h"
#include "sim_fixture.h"
#ifdef CIVITAS_HAVE_CUDA
#include "cuda/cuda_backend.h"
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

static int compare(const char *label, const char *study, double scale, long steps, long long seed)
{
    sim c, g;
    if (open_sim(&c, study, scale, steps, seed, CIV_BACKEND_CPU) || open_sim(&g, study, scale, steps, seed, CIV_BACKEND_CUDA))
        return 1;
    const size_t nv = (size_t)V_NVARS * CIV_NBOROUGH * c.e.n_out_bands;
    int64_t infections = 0;
    civ_error err = {0};
    const size_t np = (size_t)c.pop.n_tracts * CIV_N_PREM;
    float *pressure = civ_xmalloc(np * sizeof(float));
    for (long d = 0; d < c.s.steps; d++) {
        if (civ_engine_step(&c.e, &err) || civ_engine_step(&g.e, &err)) {
            fprintf(stderr, "FAIL %s: %s\n", label, err.msg);
            return 1;
        }
        /* the community pressure itself, not only its effect on the draws (a small difference in the
           mixing would rarely flip one) */
        char msg[512] = "";
        if (civ_cuda_download_pressure(g.e.gpu, pressure, msg, sizeof msg)) {
            fprintf(stderr, "FAIL %s: %s\n", label, msg);
            return 1;
        }
        for (size_t j = 0; j < np; j++)
            if (memcmp(&pressure[j], &c.e.community_pressure[j], sizeof(float)) != 0) {
                fprintf(stderr, "FAIL %s: day %ld, community pressure [tract %zu][band %zu]: cpu %.9g, gpu %.9g\n",
                        label, d, j / CIV_N_PREM, j % CIV_N_PREM, c.e.community_pressure[j], pressure[j]);
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
        infections += civ_engine_total(&c.e, V_NEW_INFECTIONS);
    }
    const uint32_t n = c.pop.n_agents;
    if (infections < 1000 || infections < (int64_t)n / 100) {
        fprintf(stderr, "FAIL %s: only %lld infections among %u agents: the comparison covered no epidemic\n", label,
                (long long)infections, n);
        return 1;
    }
    if (civ_engine_sync_agents(&g.e, &err)) { fprintf(stderr, "FAIL %s: %s\n", label, err.msg); return 1; }
    int same = !memcmp(c.e.stage, g.e.stage, n) && !memcmp(c.e.course, g.e.course, n) &&
               !memcmp(c.e.flags, g.e.flags, n) && !memcmp(c.e.labour, g.e.labour, n) &&
               !memcmp(c.e.infected_day, g.e.infected_day, n * 2) && !memcmp(c.e.next_day, g.e.next_day, n * 2) &&
               !memcmp(c.e.test_day, g.e.test_day, n * 2) && !memcmp(c.e.iso_until, g.e.iso_until, n * 2);
    printf("%s %s: %u agents, %d days, %lld infections: community pressure and series %s, final agent state %s\n", same ? "ok" : "FAIL",
           label, n, c.s.steps, (long long)infections, "identical", same ? "identical" : "DIFFERENT");
    free(pressure);
    sim_close(&c);
    sim_close(&g);
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
    fails += compare("nyc2020 seed 1", SRC "/models/covid/nyc2020.json", 0.02, 60, 1);
    fails += compare("nyc2020 seed 2", SRC "/models/covid/nyc2020.json", 0.02, 60, 2);
    fails += compare("free epidemic", SRC "/tests/data/free.json", 0.02, 40, 3);
    fails += compare("sir limit", SRC "/tests/data/sir.json", 0.02, 80, 4);
    fails += compare("nyc2020 1M agents", SRC "/models/covid/nyc2020.json", 1e6 / 8443713.0, 30, 5);
    return fails ? 1 : 0;
#endif
}
