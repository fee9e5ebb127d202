/* The calibration driver: the study and its calibration section, the population (built once), the
 * ABC-SMC generations with their simulations spread over MPI ranks, the stopping rules, and the
 * outputs. The sampler's arithmetic is in calibrate_sampler.c, the likelihood in
 * calibrate_likelihood.c, the files in calibrate_output.c. */
#include "host/workflows/calibrate.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef CIVITAS_HAVE_MPI
#include <mpi.h>
#endif

#include "host/engine/engine.h"
#include "host/util/date.h"
#include "host/util/progress.h"
#include "host/workflows/calibrate_output.h"
#include "host/workflows/run.h"

typedef struct {
    const civ_calibrate_options *o;
    civ_cal_spec sp;
    civ_study written;             /* the study as written (its calibration section, names, paths) */
    civ_study study;               /* as simulated: heuristic behaviour, the calibration's scale and days */
    civ_study_overrides ov;
    civ_population pop;
    civ_observed obs;
    const char *paths[CIV_CAL_MAX_PARAMS];
    civ_prior priors[CIV_CAL_MAX_PARAMS];
    int dim, threads, rank, ranks;
    int refused;                   /* proposals this rank simulated that the study refused */
    bool quiet;
} cal_ctx;

/* what one simulation returns: packed as doubles so a batch is gathered with one reduction */
enum { R_DIST, R_STOPPED_EARLY, R_DAYS, R_TERMS };
#define R_WIDTH (R_TERMS + CIV_FIT_MAX_TARGETS + CIV_FIT_MAX_SERO)

/* The simulation seed of a particle: the first words of its stream, in the study's seed range */
static uint64_t particle_seed(civ_cal_rng *r)
{
    uint64_t hi = civ_cal_rng_u32(r), lo = civ_cal_rng_u32(r);
    return ((hi << 32) | lo) & (uint64_t)CIV_MAX_SEED;
}

/* The study with `values` at the calibrated paths (the loader checks every value as for any study). */
static civ_status load_with(cal_ctx *c, const double *values, civ_study *s, civ_error *err)
{
    civ_study_values v = {c->dim, c->paths, values, false, "calibration.parameters"};
    civ_study_overrides ov = c->ov;
    ov.values = &v;
    civ_status st = civ_study_load(c->o->study, &ov, s, err);
    if (st) civ_study_free(s);
    return st;
}

/* Simulates one particle up to the last fitted day, or until its distance must exceed `tolerance`. */
static civ_status simulate(cal_ctx *c, const double *values, uint64_t seed, double tolerance, double *out, civ_error *err)
{
    civ_study s;
    civ_status st = load_with(c, values, &s, err);
    if (st == CIV_ERR_INPUT) {
        /* values the model refuses (e.g. an IFR above the symptomatic share at the oldest ages, reached by the
           perturbation beyond the priors' checked range): outside its domain, so the proposal is rejected */
        if (!c->refused++ && !c->quiet)
            fprintf(stderr, "civitas: notice: a proposal the model refuses is rejected (there may be more): %s\n", err->msg);
        *err = (civ_error){0};
        out[R_DIST] = INFINITY;
        out[R_STOPPED_EARLY] = 1;
        out[R_DAYS] = 0;
        return CIV_OK;
    }
    if (st) return st;
    s.seed = seed;
    civ_engine e;
    if ((st = civ_engine_init(&e, &s, &c->pop, c->threads, &civ_backend_cpu, 0, err))) {
        civ_engine_free(&e);
        civ_study_free(&s);
        return st;
    }
    civ_fit_run run;
    civ_fit_run_start(&run, &c->sp.fit);
    int stopped = 0;
    while (e.day < c->sp.fit.days && !st) {
        if (civ_interrupted) {
            st = civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted; nothing was written", c->o->output);
            break;
        }
        if ((st = civ_engine_step(&e, err))) break;
        civ_fit_run_day(&run, e.day - 1, e.series);
        if (civ_fit_run_lower_bound(&run) > tolerance) { stopped = e.day < c->sp.fit.days; break; }
    }
    out[R_DIST] = run.total;
    out[R_STOPPED_EARLY] = stopped;
    out[R_DAYS] = e.day;
    for (int k = 0; k < civ_fit_n_terms(&c->sp.fit); k++) out[R_TERMS + k] = run.terms[k];
    civ_fit_run_free(&run);
    civ_engine_free(&e);
    civ_study_free(&s);
    return st;
}

/* Every rank simulates its share (proposal i on rank i mod R) of proposals [first, first + n); the
 * results reach every rank. Values and seeds are computed by every rank alike. */
static civ_status run_batch(cal_ctx *c, const double *values, const uint64_t *seeds, int n, double tolerance, double *res,
                            civ_bar *bar, int *done, civ_error *err)
{
    civ_status st = CIV_OK;
    memset(res, 0, sizeof(double) * (size_t)n * R_WIDTH);
    for (int i = c->rank; i < n && !st; i += c->ranks) {
        st = simulate(c, values + (size_t)i * c->dim, seeds[i], tolerance, res + (size_t)i * R_WIDTH, err);
        civ_bar_update(bar, *done += c->ranks, NULL);
    }
#ifdef CIVITAS_HAVE_MPI
    if (c->ranks > 1) {
        int mine = st != CIV_OK, any = 0;
        MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (any) return st ? st : civ_fail(err, CIV_ERR_RUNTIME, "another MPI rank failed (see its message above)");
        /* each entry is written by one rank and is 0 on the others: the sum is exact */
        MPI_Allreduce(MPI_IN_PLACE, res, n * R_WIDTH, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    }
#endif
    return st;
}

/* The prior's far ends (0.1% and 99.9% of the coordinate, about) and its median must be values the
 * study accepts, so a bad prior fails here, naming the parameter, not in the middle of a generation. */
static civ_status check_priors(cal_ctx *c, civ_error *err)
{
    double v[CIV_CAL_MAX_PARAMS];
    for (int k = 0; k < c->dim; k++) {
        double lo, hi;
        civ_prior_interval(&c->priors[k], &lo, &v[k], &hi);
    }
    for (int k = -1; k < c->dim; k++)
        for (int side = -1; side <= (k < 0 ? -1 : 1); side += 2) {
            double w[CIV_CAL_MAX_PARAMS];
            memcpy(w, v, sizeof w);
            if (k >= 0) {   /* unbounded priors: 3.1 sd out; bounded ones: position 0.09% from either end */
                const civ_prior *p = &c->priors[k];
                int gauss = p->kind == CIV_PRIOR_LOGNORMAL || p->kind == CIV_PRIOR_NORMAL;
                w[k] = civ_prior_value(p, gauss ? civ_prior_coordinate(p, v[k]) + side * 3.1 * p->b : side * 7.0);
            }
            civ_study s;
            civ_error e2 = {0};
            if (load_with(c, w, &s, &e2)) {
                /* the loader's message without the study's name, which this one starts with */
                size_t n = strlen(c->o->study);
                const char *why = strncmp(e2.msg, c->o->study, n) == 0 && e2.msg[n] == ':' ? e2.msg + n + 2 : e2.msg;
                if (k < 0)
                    return civ_fail(err, CIV_ERR_INPUT, "%s: field 'calibration.parameters': the study refuses the priors' "
                                    "medians: %s", c->o->study, why);
                return civ_fail(err, CIV_ERR_INPUT, "%s: field 'calibration.parameters[%d].prior' (%s) reaches %g, which the "
                                "study refuses (narrow or bound the prior): %s", c->o->study, k, c->paths[k], w[k], why);
            }
            civ_study_free(&s);
        }
    return CIV_OK;
}

/* Agents in each serosurvey's group (age and borough), the denominator of its simulated share, and in each
 * band of the deaths-by-age target, the denominator of its rates */
static void count_target_people(cal_ctx *c)
{
    civ_fit_data *f = &c->sp.fit;
    for (int j = 0; j < f->age.n_bands; j++) {
        const int b = f->age.band[j], lo = f->band_edges[b], hi = b + 1 < f->n_bands ? f->band_edges[b + 1] : 1 << 30;
        double n = 0;
        for (uint32_t i = 0; i < c->pop.n_agents; i++) n += c->pop.age[i] >= lo && c->pop.age[i] < hi;
        f->age.people[j] = n;
    }
    for (int j = 0; j < f->n_sero; j++) {
        double n = 0;
        for (uint32_t i = 0; i < c->pop.n_agents; i++)
            n += c->pop.age[i] >= f->sero[j].min_age && (f->sero[j].borough < 0 || c->pop.borough[i] == f->sero[j].borough);
        f->sero_people[j] = n;
        double sd = civ_sero_sd_logit(&f->sero[j]), least = log(sd) + 0.91893853320467274178;
        if (least < 0) f->sero_floor += least;
    }
}

static civ_status setup(cal_ctx *c, civ_error *err)
{
    const civ_calibrate_options *o = c->o;
    civ_study_overrides ov = {-1, -1, -1, NULL, NULL, "heuristic", NULL, true, NULL};
    civ_status st;
    /* the study as written first, for its calibration section; then as simulated */
    if ((st = civ_study_load(o->study, &ov, &c->written, err)) || (st = civ_cal_spec_read(&c->written, o, &c->sp, err)))
        return st;
    if (!c->written.observed_file)
        return civ_fail(err, CIV_ERR_INPUT, "%s: calibration needs observed data: the study must name 'observed'", o->study);
    ov.scale = c->sp.scale;
    ov.steps = c->sp.fit.days;
    c->ov = ov;
    if ((st = civ_study_load(o->study, &ov, &c->study, err))) return st;
    c->dim = c->sp.n_params;
    for (int k = 0; k < c->dim; k++) {
        c->paths[k] = c->sp.params[k].path;
        c->priors[k] = c->sp.params[k].prior;
    }
    if ((st = check_priors(c, err)) ||
        (st = civ_observed_load(c->study.observed_file, c->study.start_day, c->sp.fit.days, &c->obs, err)))
        return st;
    char source[2048];
    if ((st = civ_study_population(&c->study, c->quiet, &c->pop, source, sizeof source, err))) return st;
    civ_fit_data *f = &c->sp.fit;
    f->obs = &c->obs;
    f->scale = c->pop.scale;
    f->n_bands = c->study.n_out_bands;
    memcpy(f->band_edges, c->study.out_band_edges, sizeof(int) * (size_t)f->n_bands);
    count_target_people(c);
    return CIV_OK;
}

/* the generation, and the best particle so far (lowest distance: the loss) */
static void print_generation(const cal_ctx *c, int t, const civ_cal_generation *g, const double *best)
{
    char tol[32];
    if (isinf(g->tolerance)) snprintf(tol, sizeof tol, "none (prior)");
    else snprintf(tol, sizeof tol, "%.2f", g->tolerance);
    fprintf(stderr, "civitas: generation %d: tolerance %s, accepted %d of %d proposals (%.0f%%), ESS %.0f, %d simulations "
            "(%d cut short) in %.1fs; best -log L so far %.2f\n", t, tol, c->sp.particles, g->proposals, 100 * g->acceptance,
            g->ess, g->simulations, g->stopped_early, g->seconds, g->best_loss);
    for (int k = 0; k < c->dim; k++)
        fprintf(stderr, "civitas:   %-36s median %-10.4g 90%% [%.4g, %.4g]  best %.4g\n", c->paths[k], g->post[k].median,
                g->post[k].p05, g->post[k].p95, best[k]);
}

static void print_header(const cal_ctx *c)
{
    const civ_cal_spec *sp = &c->sp;
    char until[11], held[11] = "", what[160] = "";
    civ_date_format(sp->fit_until, until);
    if (sp->held_out_from != INT_MAX) civ_date_format(sp->held_out_from, held);
    for (int i = 0; i < sp->fit.n_targets; i++)
        snprintf(what + strlen(what), sizeof what - strlen(what), "%s%s", i ? ", " : "",
                 civ_fit_series_name[sp->fit.targets[i].series]);
    if (sp->fit.n_sero) snprintf(what + strlen(what), sizeof what - strlen(what), ", %d serosurvey(s)", sp->fit.n_sero);
    if (sp->fit.age.n_bands)
        snprintf(what + strlen(what), sizeof what - strlen(what), ", deaths in %d age band(s)", sp->fit.age.n_bands);
    fprintf(stderr, "civitas: calibrating %d parameters of '%s' to %s up to %s%s%s (ABC-SMC: %d particles, up to %d "
            "generations and %d simulations), scale %g (%u agents), %d rank(s) x %d thread(s)\n", c->dim, c->written.name, what,
            until, held[0] ? ", held out from " : "", held, sp->particles, sp->max_generations, sp->max_simulations, c->pop.scale,
            c->pop.n_agents, c->ranks, c->threads);
}

civ_status civ_calibrate(const civ_calibrate_options *o, civ_error *err)
{
    cal_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.ranks = 1;
#ifdef CIVITAS_HAVE_MPI
    int use_mpi = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
    if (use_mpi) {
        MPI_Init(NULL, NULL);
        MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c.ranks);
    }
#endif
    c.quiet = o->quiet || c.rank != 0;
    c.threads = o->threads;
#ifdef _OPENMP
    if (c.threads <= 0) { c.threads = omp_get_max_threads() / c.ranks; if (c.threads < 1) c.threads = 1; }
#else
    c.threads = 1;
#endif
    civ_status st = setup(&c, err);
    if (!st) st = civ_cal_check_outputs(o->output, err);   /* before hours of simulations (every rank alike) */
    const civ_cal_spec *sp = &c.sp;
    const int N = sp->particles, D = c.dim, NT = civ_fit_n_terms(&sp->fit);
    civ_cal_result res;
    memset(&res, 0, sizeof res);
    res.best_loss = INFINITY;
    civ_cal_generation *gens = civ_xcalloc((size_t)sp->max_generations + 1, sizeof *gens);
    civ_abc_generation prev = {0}, cur = {0};
    double *chol = civ_xcalloc((size_t)N * D * D, sizeof(double));   /* one kernel per particle of the previous generation */
    double *logw = civ_xcalloc((size_t)N + 1, sizeof(double));
    const double t0 = civ_now();
    if (!st && !c.quiet) print_header(&c);
    for (int t = 0; t < sp->max_generations && !st; t++) {
        const double tg = civ_now();
        const double eps = t == 0 ? INFINITY : civ_abc_quantile(prev.dist, N, sp->quantile);
        if (t > 0) civ_abc_kernel(&prev, sp->kernel, eps, chol);
        civ_abc_generation_alloc(&cur, N, D);
        civ_cal_generation *g = &gens[t];
        int accepted = 0, proposed = 0, done = 0;
        const double guess = t == 0 ? 1.0 : t == 1 ? sp->quantile : gens[t - 1].acceptance;
        char label[64];
        snprintf(label, sizeof label, "civitas: generation %d", t);
        civ_bar bar;
        civ_bar_start(&bar, label, N, c.quiet || !isatty(2));
        /* proposals of this generation the budget allows (the budget counts proposals up to each generation's
           last acceptance, so it does not depend on how many were run in vain after it) */
        const long allowed = sp->max_simulations - res.proposals;
        while (accepted < N && !st && proposed < allowed) {
            /* a batch of a little under the proposals still needed at the acceptance seen so far (at most 2N), rounded up
               to whole rounds of the ranks; proposal i is the same whatever the batches (its draws depend on
               (seed, generation, i) alone) and the first N acceptances in proposal order are kept, so the
               batches change only how many simulations run in vain, never the result */
            const double rate = (accepted + 2.0) / (proposed + 2.0 / fmax(guess, 0.01));   /* the guess as 2 acceptances */
            long B = t == 0 ? N - accepted : (long)ceil(0.8 * (N - accepted) / rate);   /* the prior accepts all */
            if (B < 2) B = 2;
            if (B > 2 * N) B = 2 * N;
            B = (B + c.ranks - 1) / c.ranks * c.ranks;
            if (B > allowed - proposed) B = allowed - proposed;
            double *x = civ_xmalloc(sizeof(double) * (size_t)B * D), *v = civ_xmalloc(sizeof(double) * (size_t)B * D);
            double *out = civ_xmalloc(sizeof(double) * (size_t)B * R_WIDTH);
            uint64_t *seeds = civ_xmalloc(sizeof(uint64_t) * (size_t)B);
            for (int i = 0; i < B; i++) {
                civ_cal_rng r = civ_cal_rng_at(sp->seed, (uint32_t)t, (uint32_t)(proposed + i));
                seeds[i] = particle_seed(&r);
                civ_abc_propose(t ? &prev : NULL, chol, c.priors, D, &r, x + (size_t)i * D);
                for (int k = 0; k < D; k++) v[(size_t)i * D + k] = civ_prior_value(&c.priors[k], x[(size_t)i * D + k]);
            }
            bar.total = done + (int)B;
            st = run_batch(&c, v, seeds, (int)B, eps, out, &bar, &done, err);
            for (int i = 0; i < B && !st && accepted < N; i++) {
                const double *r = out + (size_t)i * R_WIDTH;
                res.simulated_days += (long)r[R_DAYS];
                g->stopped_early += (int)r[R_STOPPED_EARLY];
                g->proposals = (int)(proposed + i + 1);
                if (r[R_STOPPED_EARLY] || !(r[R_DIST] <= eps)) continue;
                memcpy(cur.x + (size_t)accepted * D, x + (size_t)i * D, sizeof(double) * D);
                cur.dist[accepted] = r[R_DIST];
                logw[accepted] = civ_abc_log_weight(t ? &prev : NULL, chol, c.priors, x + (size_t)i * D);
                accepted++;
                if (r[R_DIST] < res.best_loss) {
                    res.best_loss = r[R_DIST];
                    memcpy(res.best_values, v + (size_t)i * D, sizeof(double) * D);
                    memcpy(res.best_terms, r + R_TERMS, sizeof(double) * NT);
                    res.best_generation = t;
                    res.best_seed = seeds[i];
                }
            }
            res.simulations += B;
            proposed += B;
            free(x); free(v); free(out); free(seeds);
        }
        res.proposals += g->proposals;
        civ_bar_end(&bar, NULL);
        if (st) { civ_abc_generation_free(&cur); break; }
        if (accepted < N) {   /* the budget ran out inside the generation: the previous one is the posterior */
            civ_abc_generation_free(&cur);
            res.stop_reason = "max_simulations";
            snprintf(res.stop_message, sizeof res.stop_message, "NOT converged: the simulation budget (%d) ran out in generation "
                     "%d, after %d of %d acceptances; the posterior is generation %d", sp->max_simulations, t, accepted, N, t - 1);
            break;
        }
        civ_abc_normalise(logw, N, cur.w);
        double *vals = civ_xmalloc(sizeof(double) * (size_t)N * D);
        for (int i = 0; i < N * D; i++) vals[i] = civ_prior_value(&c.priors[i % D], cur.x[i]);
        for (int k = 0; k < D; k++) civ_cal_summarise(vals, cur.w, N, D, k, &g->post[k]);
        free(vals);
        g->tolerance = eps;
        g->simulations = (int)proposed;
        g->acceptance = (double)N / g->proposals;
        g->ess = civ_abc_ess(cur.w, N);
        g->seconds = civ_now() - tg;
        g->best_loss = res.best_loss;
        civ_abc_generation_free(&prev);
        prev = cur;
        memset(&cur, 0, sizeof cur);
        res.n_generations = t + 1;
        if (!c.quiet) print_generation(&c, t, g, res.best_values);
        if (t > 0 && g->acceptance < sp->min_acceptance) {
            res.stop_reason = "min_acceptance";
            res.converged = 1;
            snprintf(res.stop_message, sizeof res.stop_message, "converged: the acceptance rate (%.3f) fell below min_acceptance "
                     "(%g): the tolerance has reached what the simulations' noise allows", g->acceptance, sp->min_acceptance);
            break;
        }
        if (t > 1 && gens[t - 1].tolerance - g->tolerance < sp->min_tolerance_decrease) {
            res.stop_reason = "min_tolerance_decrease";
            res.converged = 1;
            snprintf(res.stop_message, sizeof res.stop_message, "converged: the tolerance fell by %.3g (< min_tolerance_decrease "
                     "%g) from generation %d to %d", gens[t - 1].tolerance - g->tolerance, sp->min_tolerance_decrease, t - 1, t);
            break;
        }
        if (t == sp->max_generations - 1) {
            res.stop_reason = "max_generations";
            snprintf(res.stop_message, sizeof res.stop_message, "NOT converged: the generation budget (%d) ran out while the "
                     "tolerance was still falling (%s)", sp->max_generations,
                     t > 0 ? "acceptance and tolerance still above the stopping thresholds" : "only the prior was sampled");
        }
    }
    if (!st && !res.n_generations)
        st = civ_fail(err, CIV_ERR_RUNTIME, "calibration produced no complete generation");
    if (!st && c.rank == 0) {
        double *vals = civ_xmalloc(sizeof(double) * (size_t)N * D);
        for (int i = 0; i < N * D; i++) vals[i] = civ_prior_value(&c.priors[i % D], prev.x[i]);
        for (int k = 0; k < D; k++) {
            civ_cal_summary *p = &res.prior[k];
            civ_prior_interval(&c.priors[k], &p->p05, &p->median, &p->p95);
            p->mean = p->sd = NAN;
        }
        res.sp = sp;
        res.study = &c.written;
        res.study_path = o->study;
        res.output = o->output;
        res.scale = c.pop.scale;
        res.agents = c.pop.n_agents;
        res.generations = gens;
        res.final = &prev;
        res.values = vals;
        res.seconds = civ_now() - t0;
        res.ranks = c.ranks;
        res.threads = c.threads;
        st = civ_cal_write(&res, err);
        if (!st && !c.quiet) {
            fprintf(stderr, "civitas: %s\n", res.stop_message);
            if (!res.converged)
                fprintf(stderr, "civitas: warning: the calibration did NOT converge: its posterior is wider than the data "
                        "allow; raise calibration.method.max_generations or max_simulations (--generations, --max-simulations)\n");
            double ess = civ_abc_ess(prev.w, N);
            if (ess < N / 5.0)
                fprintf(stderr, "civitas: warning: the final effective sample size is %.0f of %d particles: the posterior "
                        "rests on few particles; raise calibration.method.particles\n", ess, N);
            fprintf(stderr, "civitas: %ld simulations (%.2fs each, %ld simulated days) in %.0fs; wrote %s, its posterior "
                    "sample and %s.fit.json\n", res.simulations, res.seconds / (double)res.simulations * c.ranks,
                    res.simulated_days, res.seconds, o->output, o->output);
        }
        free(vals);
    }
    civ_abc_generation_free(&prev);
    civ_abc_generation_free(&cur);
    free(gens);
    free(logw);
    free(chol);
    civ_population_free(&c.pop);
    civ_observed_free(&c.obs);
    civ_study_free(&c.study);
    civ_study_free(&c.written);
#ifdef CIVITAS_HAVE_MPI
    if (use_mpi) MPI_Finalize();
#endif
    return st;
}
