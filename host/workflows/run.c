#include "host/workflows/run.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "host/engine/engine.h"
#include "host/workflows/backend_choice.h"
#include "host/study/observed.h"
#include "host/util/file.h"
#include "host/util/progress.h"
#include "host/core/trace.h"
#include "host/output/trajectory.h"
#include "host/output/units.h"

civ_status civ_study_population(const civ_study *s, bool quiet, civ_population *pop, char *source,
                                size_t source_len, civ_error *err)
{
    double t0 = civ_now();
    civ_status st;
    char *copy = strdup(s->study_file), where[4096];   /* recorded relative to the study file */
    civ_path_relative(s->population_file ? s->population_file : s->data_dir, dirname(copy), where, sizeof where);
    free(copy);
    if (s->population_file) {
        if (!quiet) fprintf(stderr, "civitas: loading population %s\n", s->population_file);
        if ((st = civ_population_load(s->population_file, pop, err))) return st;
        snprintf(source, source_len, "file %s (relative to the study file)", where);
    } else {
        civ_synth_options so = {s->data_dir, s->scale, s->population_seed, s->laus_year, s->laus_month, quiet};
        if (!quiet) fprintf(stderr, "civitas: synthesizing population (scale %g, seed %llu) from %s\n",
                            s->scale, (unsigned long long)s->population_seed, s->data_dir);
        if ((st = civ_synthesize(&so, pop, err))) return st;
        snprintf(source, source_len, "synthesized: data_dir %s (relative to the study file), scale %g, seed %llu, "
                 "employment reference %s", where, s->scale, (unsigned long long)s->population_seed,
                 pop->employment_reference);
    }
    if (!quiet)
        fprintf(stderr, "civitas: %u agents, %u households, %u schools and workplaces (%.1fs)\n",
                pop->n_agents, pop->n_households, pop->n_places, civ_now() - t0);
    return CIV_OK;
}

static bool is_snapshot_step(const civ_study *s, int step)
{
    for (int k = 0; k < s->n_snapshots; k++) if (s->snapshot_steps[k] == step) return true;
    return false;
}

static civ_status launch_timed(civ_engine *e, double *sim, civ_error *err)
{
    double t = civ_now();
    civ_status st = civ_engine_launch(e, err);
    *sim += civ_now() - t;
    return st;
}

civ_status civ_run(const civ_run_options *o, civ_error *err)
{
    civ_study s;
    civ_status st = civ_study_load(o->study, &o->ov, &s, err);
    if (st) { civ_study_free(&s); return st; }
    civ_backend backend = CIV_BACKEND_CPU;
    int devices = 0;
    civ_input_note(s.population_file);   /* read later: the output must not replace it either */
    if ((st = civ_backend_choose(o->backend, o->quiet, &backend, &devices, err)) ||
        (st = civ_output_check(s.output_file, err))) {
        civ_study_free(&s);
        return st;
    }
    civ_observed obs = {0};
    if (s.observed_file && (st = civ_observed_load(s.observed_file, s.start_day, s.steps, &obs, err))) {
        civ_study_free(&s);
        return st;
    }
    int threads = o->threads;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    civ_population pop;
    char source[2048];
    if ((st = civ_study_population(&s, o->quiet, &pop, source, sizeof source, err))) {
        civ_observed_free(&obs);
        civ_study_free(&s);
        return st;
    }
    civ_engine e;
    civ_traj *traj = NULL;
    const civ_backend_ops *ops = civ_backend_ops_of(backend);
    const char *backend_name = ops->name;
    if ((st = civ_engine_init(&e, &s, &pop, threads, ops, 0, err)) || (st = civ_engine_start_bridge(&e, o->quiet, &civ_interrupted, err)))
        goto out_engine;
    if ((st = civ_traj_create(&traj, s.output_file, &e, backend_name, source, s.observed_file ? &obs : NULL, err)))
        goto out_engine;

    if (!o->quiet) {
        char scale_text[200];
        civ_scale_statement(pop.scale, scale_text, sizeof scale_text);
        fprintf(stderr, "civitas: running study '%s' for %d days on the %s backend (%d threads), %u initial infections -> %s\n"
                "civitas: %s\n", s.name, s.steps, backend_name, threads, e.seeded, s.output_file, scale_text);
    }
    int late = 0;
    for (int k = 0; k < s.n_snapshots; k++) late += s.snapshot_steps[k] >= s.steps;
    if (late && !o->quiet)
        fprintf(stderr, "civitas: notice: %d snapshot date(s) fall after the last simulated day and will not be written\n", late);
    civ_bar pr;
    civ_bar_start(&pr, "civitas: simulating", s.steps, o->quiet);
    double t0 = civ_now(), sim = 0, write = 0;
    int64_t cum_inf = 0, cum_cases = 0;
    /* Day d+1 is launched before day d is written, so that on the GPU the HDF5 write of a day
     * overlaps the kernels of the next. Not on days whose record the next launch would change:
     * snapshots (agent state) and consecutive table refreshes (the table and bridge record). */
    bool launched = false;
    if (e.day < s.steps && !civ_interrupted) launched = !(st = launch_timed(&e, &sim, err));
    while (launched) {
        double ts = civ_now();
        st = civ_engine_complete(&e, err);
        sim += civ_now() - ts;
        launched = false;
        if (st) break;
        const int done = e.day - 1;
        const bool snapshot = is_snapshot_step(&s, done);
        if (snapshot && (st = civ_engine_sync_agents(&e, err))) break;
        const bool more = e.day < s.steps && !civ_interrupted;
        const bool overlap = more && !snapshot && !(e.table_refreshed && civ_engine_refreshes_on(&e, e.day));
        civ_status next = CIV_OK;   /* a failed launch of the next day still lets this day be written */
        if (overlap) launched = !(next = launch_timed(&e, &sim, err));
        civ_trace_push("civitas: write day (HDF5)");
        ts = civ_now();
        st = civ_traj_append(traj, &e, err);
        write += civ_now() - ts;
        civ_trace_pop();
        if (st) break;
        cum_inf += civ_engine_total(&e, CIV_VAR_NEW_INFECTIONS);
        cum_cases += civ_engine_total(&e, CIV_VAR_NEW_REPORTED_CASES);
        char detail[200], n[4][40];   /* real-city units (the start line states the scale) */
        civ_fmt_count(civ_real((double)cum_inf, pop.scale), 3, n[0], sizeof n[0]);
        civ_fmt_count(civ_real((double)cum_cases, pop.scale), 3, n[1], sizeof n[1]);
        civ_fmt_count(civ_real((double)civ_engine_total(&e, CIV_VAR_HOSPITALISED), pop.scale), 3, n[2], sizeof n[2]);
        civ_fmt_count(civ_real((double)civ_engine_total(&e, CIV_VAR_DEAD), pop.scale), 3, n[3], sizeof n[3]);
        snprintf(detail, sizeof detail, "infected %s, reported %s, in hospital %s, dead %s", n[0], n[1], n[2], n[3]);
        civ_bar_update(&pr, e.day, detail);
        if ((st = next)) break;
        if (more && !overlap) {
            if ((st = launch_timed(&e, &sim, err))) break;
            launched = true;
        }
    }
    double wall = civ_now() - t0;
    struct rusage ru;
    long peak_mb = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024 : -1;   /* ru_maxrss is in KiB */
    char summary[256];
    snprintf(summary, sizeof summary, "%d days in %.2fs (%.3fs/day simulation, %.3g agent-days/s; %.2f ms/day writing; "
             "peak memory %ld MB)", e.day, wall, e.day ? sim / e.day : 0.0,
             sim > 0 ? (double)pop.n_agents * e.day / sim : 0.0, e.day ? 1e3 * write / e.day : 0.0, peak_mb);
    civ_bar_end(&pr, summary);
    if (st == CIV_ERR_INTERRUPTED) {   /* a signal cut an LLM refresh short: an interrupt like any other */
        civ_interrupted = 1;
        *err = (civ_error){0};
        st = CIV_OK;
    }
    if (st) {   /* the completed days are kept, marked failed, unless the file itself could not be written */
        char msg[sizeof err->msg + 16];
        snprintf(msg, sizeof msg, "failed: %s", err->msg);
        civ_traj_close(traj, msg, true, NULL);
    } else if (civ_interrupted) {
        if (!(st = civ_traj_close(traj, "interrupted", true, err)))
            st = civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted after %d of %d days; the file holds the completed "
                          "days and is marked status=interrupted", s.output_file, e.day, s.steps);
    } else {
        st = civ_traj_close(traj, "complete", true, err);
        if (!st && !o->quiet) fprintf(stderr, "civitas: wrote %s\n", s.output_file);
    }
out_engine:
    civ_engine_free(&e);
    civ_population_free(&pop);
    civ_observed_free(&obs);
    civ_study_free(&s);
    return st;
}
