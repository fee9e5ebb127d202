/* Benchmark: agent-days per second, agent-state bytes, bytes moved per
 * agent-day and peak memory at 100k, 1M and full-NYC populations, on the CPU
 * backend and, where a CUDA device exists, on the GPU in the same run, each
 * next to a bandwidth baseline measured in the same run (streaming copy on the
 * host, device-to-device copy on the GPU). Not a test: it prints figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "host/engine/engine.h"
#include "host/util/progress.h"
#include "host/workflows/backend_choice.h"
#include "host/workflows/run.h"
#ifdef CIVITAS_HAVE_CUDA
#include "cuda/backend_cuda.h"
#endif

/* Bytes the two per-agent passes read or write for a typical agent per day
 * (rare branches excluded); see host/engine.c.
 *   attendance pass: stage 1, flags 1, iso_until 2, place 4, labour 1, archetype 2, today (write) 1
 *   transmission + progression pass: age 1, borough 1, today 1, stage 1, household 4, household_sum 8,
 *     place 4, place_sum 8, tract 2, flags 1, iso_until 2, next_day 2, labour 1, archetype 2
 *   per-group clears: household_sum 8 x households/agent (~0.4), place_sum, tract sums (small) */
static double bytes_per_agent_day(const civ_population *p)
{
    double pass1 = 1 + 1 + 2 + 4 + 1 + 2 + 1;
    double pass2 = 1 + 1 + 1 + 1 + 4 + 8 + 4 + 8 + 2 + 1 + 2 + 2 + 1 + 2;
    double clears = 8.0 * (p->n_households + p->n_places) / p->n_agents;
    return pass1 + pass2 + clears;
}

static double stream_copy_gbs(size_t bytes, int threads)
{
    size_t n = bytes / sizeof(double);
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
    #pragma omp parallel for num_threads(threads)
    for (size_t i = 0; i < n; i++) { a[i] = (double)i; b[i] = 0; }
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = civ_now();
        #pragma omp parallel for num_threads(threads)
        for (size_t i = 0; i < n; i++) b[i] = a[i];
        double t = civ_now() - t0;
        if (t < best) best = t;
    }
    volatile double sink = b[n / 2];
    (void)sink;
    free(a); free(b);
    return 2.0 * (double)n * sizeof(double) / best / 1e9;   /* read + write */
}

static long peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

/* One row of the table, kept for the bandwidth summary. */
typedef struct {
    civ_backend backend;
    double agents, per_day, moved;
} bench_row;

static int bench_size(const char *study, double scale, int days, int threads, civ_backend backend, bench_row *row)
{
    civ_study_overrides ov = {scale, days, -1, NULL, NULL, NULL, NULL, true, NULL};
    civ_study s;
    civ_error err = {0};
    if (civ_study_load(study, &ov, &s, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    civ_population pop;
    char src[512];
    double t0 = civ_now();
    if (civ_study_population(&s, true, &pop, src, sizeof src, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double synth = civ_now() - t0;
    civ_engine e;
    if (civ_engine_init(&e, &s, &pop, threads, civ_backend_ops_of(backend), 0, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    /* day 0 is a warm-up (lazy kernel loading, first cuBLAS call, page faults), not timed */
    if (civ_engine_step(&e, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double t1 = civ_now();
    while (e.day < s.steps)
        if (civ_engine_step(&e, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double per_day = (civ_now() - t1) / (s.steps - 1);
    double state = (double)civ_engine_bytes_per_agent() + (double)civ_population_bytes_per_agent();
    double moved = bytes_per_agent_day(&pop);
    printf("%5s %10u %9.2f %11.3g %12.3g %10.0f %10.0f %10.2f %9ld %10.4f\n", backend == CIV_BACKEND_CUDA ? "gpu" : "cpu",
           pop.n_agents, synth, per_day * 1e3, pop.n_agents / per_day, state, moved, moved * pop.n_agents / per_day / 1e9,
           peak_rss_mb(), 1e6 * per_day / pop.n_agents);
    fflush(stdout);
    row->backend = backend;
    row->agents = pop.n_agents;
    row->per_day = per_day;
    row->moved = moved;
    civ_engine_free(&e);
    civ_population_free(&pop);
    civ_study_free(&s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *study = argc > 1 ? argv[1] : CIVITAS_SOURCE_DIR "/models/covid/nyc2020.json";
    int days = argc > 2 ? atoi(argv[2]) : 30;
    if (days < 2) days = 2;
    double max_scale = argc > 3 ? atof(argv[3]) : 1.0;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    const double full = 8443713.0;   /* agents at scale 1 (tract file total) */
    const double scales[3] = {1e5 / full, 1e6 / full, 1.0};
    int gpu = 0;
#ifdef CIVITAS_HAVE_CUDA
    char name[128] = "", why[256] = "";
    gpu = civ_cuda_device_count(name, sizeof name, why, sizeof why) > 0;
    if (gpu) printf("GPU: %s\n", name);
    else printf("GPU: none (%s): CPU rows only\n", why);
#else
    printf("GPU: this build has no CUDA backend: CPU rows only\n");
#endif
    printf("civitas benchmark: study %s, %d simulated days per size (from the study's start date; day 0 is a "
           "warm-up), %d CPU threads; times exclude output I/O\n", study, days, threads);
    printf("reference (published, measured on a 2-core Debian VM like the dev machine): OpenABM-Covid19 1.34 s/day at 1M "
           "agents, 3.9 GB; AgentTorch CPU 4.6 us/agent-step, 6.6 GB at 1M\n\n");
    printf("%5s %10s %9s %11s %12s %10s %10s %10s %9s %10s\n", "where", "agents", "synth_s", "ms/day", "agent-days/s",
           "state_B/ag", "moved_B/ad", "GB/s_eff", "peak_MB", "us/ag-step");
    bench_row rows[6];
    int nrows = 0;
    for (int k = 0; k < 3; k++) {
        if (scales[k] > max_scale) break;
        if (bench_size(study, scales[k], days, threads, CIV_BACKEND_CPU, &rows[nrows++])) return 1;
        if (gpu && bench_size(study, scales[k], days, threads, CIV_BACKEND_CUDA, &rows[nrows++])) return 1;
    }
    double host_bw = stream_copy_gbs((size_t)512 << 20, threads) * 1e9, dev_bw = 0;
    printf("\nbaseline (same run, after the sizes so it does not inflate peak_MB): host streaming copy of 512 MiB, "
           "%d threads: %.2f GB/s (read + write)\n", threads, host_bw / 1e9);
#ifdef CIVITAS_HAVE_CUDA
    if (gpu) {
        dev_bw = civ_cuda_copy_bandwidth((size_t)1 << 30);
        printf("baseline: device-to-device copy of 1 GiB: %.1f GB/s (read + write)\n", dev_bw / 1e9);
    }
#endif
    printf("\nbandwidth bound: the moved bytes at the copy baseline's rate, against the measured day\n");
    printf("%5s %10s %11s %11s %10s\n", "where", "agents", "ms/day", "bound_ms", "of_copy_bw");
    for (int r = 0; r < nrows; r++) {
        double bw = rows[r].backend == CIV_BACKEND_CUDA ? dev_bw : host_bw;
        double bound = bw > 0 ? rows[r].moved * rows[r].agents / bw : 0;
        printf("%5s %10.0f %11.3g %11.3g %9.1f%%\n", rows[r].backend == CIV_BACKEND_CUDA ? "gpu" : "cpu", rows[r].agents,
               rows[r].per_day * 1e3, bound * 1e3, rows[r].per_day > 0 ? 100.0 * bound / rows[r].per_day : 0);
    }
    printf("state_B/ag: bytes of agent state per agent (population attributes + engine state).\n"
           "moved_B/ad: bytes the passes touch per agent-day (estimate from the layout, see the source).\n"
           "GB/s_eff: moved bytes / time, to compare with the copy baselines above.\n"
           "bound_ms: moved bytes / copy baseline, the time a purely streaming day would take; of_copy_bw = bound / "
           "measured.\n  Random reads (household, place, tract sums) cost a whole 32-byte sector on the GPU and a "
           "64-byte line on the CPU,\n  so the traffic the memory really serves is higher than moved_B/ad.\n"
           "peak_MB: peak resident host memory of this process so far (sizes run in increasing order).\n");
    return 0;
}
