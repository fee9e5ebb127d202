#include "host/workflows/ensemble.h"

#include <hdf5_hl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef CIVITAS_HAVE_MPI
#include <mpi.h>
#endif

#include "host/util/date.h"
#include "host/output/ensemble_stats.h"
#include "host/output/units.h"
#include "host/study/observed.h"
#include "host/engine/engine.h"
#include "host/workflows/backend_choice.h"
#include "host/util/file.h"
#include "host/util/h5_util.h"
#include "host/util/progress.h"
#include "host/study/posterior.h"
#include "host/workflows/run.h"

/* Runs whose studies define the same population (a base and its counterfactuals
 * usually do) reuse it: it is synthesized or loaded once per rank. */
typedef struct {
    int study;                 /* -1: empty */
    int populations_built;
    char key[2048];
    civ_population pop;
    char source[2048];
} pop_cache;

static void population_key(const civ_study *s, char *key, size_t n)
{
    if (s->population_file) snprintf(key, n, "file:%s", s->population_file);
    else snprintf(key, n, "synth:%s|%.17g|%llu|%d-%d", s->data_dir, s->scale, (unsigned long long)s->population_seed,
                  s->laus_year, s->laus_month);
}

static civ_status run_one(const civ_ensemble_options *o, civ_study *s, int study_index, uint64_t seed, int threads,
                          const civ_backend_ops *backend, int device, pop_cache *pc, int32_t *out, double *scale,
                          civ_error *err)
{
    civ_status st;
    char key[2048];
    population_key(s, key, sizeof key);
    if (pc->study < 0 || strcmp(pc->key, key) != 0) {
        if (pc->study >= 0) civ_population_free(&pc->pop);
        pc->study = -1;
        if ((st = civ_study_population(s, true, &pc->pop, pc->source, sizeof pc->source, err))) return st;
        snprintf(pc->key, sizeof pc->key, "%s", key);
        pc->populations_built++;
    }
    pc->study = study_index;
    *scale = pc->pop.scale;
    s->seed = seed;
    civ_engine e;
    if ((st = civ_engine_init(&e, s, &pc->pop, threads, backend, device, err)) ||
        (st = civ_engine_start_bridge(&e, true, &civ_interrupted, err))) {
        civ_engine_free(&e);
        return st;
    }
    const size_t nv = (size_t)CIV_N_VARS * CIV_NBOROUGH * e.n_out_bands;
    while (e.day < s->steps) {
        if (civ_interrupted) {
            civ_engine_free(&e);
            return civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted; nothing was written", o->output);
        }
        if ((st = civ_engine_step(&e, err))) { civ_engine_free(&e); return st; }
        memcpy(out + (size_t)(e.day - 1) * nv, e.series, nv * sizeof(int32_t));
    }
    civ_engine_free(&e);
    return CIV_OK;
}

/* The posterior set run r uses (-1: its study has no posterior): keyed by the study's seed, the run's
 * index within its study and the runs per study, so every rank computes the same draws, and a
 * counterfactual sharing the calibrated study's posterior and seed gets the same set for the same run
 * (paired outcomes). */
static int posterior_set(const civ_posterior *post, const civ_study *st, int seeds, int r)
{
    int i = r / seeds;
    return post[i].n ? civ_posterior_draw(&post[i], st[i].seed, (uint32_t)(r % seeds), (uint32_t)seeds) : -1;
}

/* /runs/posterior_set[run] and /runs/posterior/<path>[run] (NaN where the run's study has no such parameter) */
static int write_posterior_draws(const civ_ensemble_options *o, hid_t g, hid_t run, const civ_study *st,
                                 const civ_posterior *post, int n_runs, civ_error *err)
{
    int any = 0, bad = 0;
    for (int i = 0; i < o->n_studies; i++) any |= post[i].n > 0;
    if (!any) return 0;
    int32_t *set = civ_xmalloc(sizeof(int32_t) * (size_t)n_runs);
    double *v = civ_xmalloc(sizeof(double) * (size_t)n_runs);
    for (int r = 0; r < n_runs; r++) set[r] = posterior_set(post, st, o->seeds, r);
    bad |= civ_h5_write_1d(g, "posterior_set", H5T_NATIVE_INT32, (uint64_t)n_runs, set, o->output, err) != CIV_OK;
    hid_t ds = H5Dopen2(g, "posterior_set", H5P_DEFAULT);
    H5DSattach_scale(ds, run, 0);
    civ_h5_attr_string(ds, "description", "row (0-based) of the study's posterior sample drawn for the run, -1 when the "
                       "study names no posterior; drawn by weight, stratified (run k of N from the k-th N-th of the "
                       "cumulative weights), keyed by the study's seed, the run's index within its study and N");
    H5Dclose(ds);
    for (int i = 0; i < o->n_studies; i++)
        for (int k = 0; k < post[i].n_params; k++) {
            char path[512];
            snprintf(path, sizeof path, "posterior/%s", post[i].paths[k]);
            if (H5Lexists(g, "posterior", H5P_DEFAULT) > 0 && H5Lexists(g, path, H5P_DEFAULT) > 0) continue;
            for (int r = 0; r < n_runs; r++) {
                const civ_posterior *p = &post[r / o->seeds];
                v[r] = NAN;
                for (int q = 0; q < p->n_params && set[r] >= 0; q++)
                    if (strcmp(p->paths[q], post[i].paths[k]) == 0) v[r] = p->values[(size_t)set[r] * p->n_params + q];
            }
            bad |= civ_h5_write_1d(g, path, H5T_NATIVE_DOUBLE, (uint64_t)n_runs, v, o->output, err) != CIV_OK;
            ds = H5Dopen2(g, path, H5P_DEFAULT);
            H5DSattach_scale(ds, run, 0);
            H5Dclose(ds);
        }
    free(set);
    free(v);
    return bad;
}

/* The date, borough and age-band dimension scales of one group (every group that holds series has its
 * own, so xarray opens any of them with named, decoded dimensions). */
typedef struct { hid_t date, boro, band; } scales;

static scales make_scales(hid_t g, const civ_study *s0, int steps, int nb, bool with_bands)
{
    scales sc = {-1, -1, -1};
    int32_t *days = civ_xmalloc((size_t)steps * sizeof(int32_t) + 1);
    for (int t = 0; t < steps; t++) days[t] = t;
    sc.date = civ_h5_int_scale(g, "date", steps, days);
    free(days);
    char start[11], units[64];
    civ_date_format(s0->start_day, start);
    snprintf(units, sizeof units, "days since %s", start);
    civ_h5_attr_string(sc.date, "units", units);
    civ_h5_attr_string(sc.date, "calendar", "standard");
    civ_h5_attr_string(sc.date, "long_name", "simulated day (calendar date)");
    sc.boro = civ_h5_string_scale(g, "borough", CIV_NBOROUGH, civ_borough_code);
    civ_h5_attr_string(sc.boro, "long_name", "Bronx, Brooklyn, Manhattan, Queens, Staten Island");
    if (with_bands) {
        char labels[CIV_MAX_BANDS][16];
        const char *lp[CIV_MAX_BANDS];
        for (int b = 0; b < nb; b++) {
            civ_age_band_label(s0->out_band_edges, nb, b, labels[b], sizeof labels[b]);
            lp[b] = labels[b];
        }
        sc.band = civ_h5_string_scale(g, "age_band", nb, lp);
    }
    return sc;
}

static void close_scales(scales *sc)
{
    H5Dclose(sc->date);
    H5Dclose(sc->boro);
    if (sc->band >= 0) H5Dclose(sc->band);
}

/* An n-dimensional dataset (chunked, deflated) with its dimension scales attached in order. */
static int write_nd(hid_t g, const char *name, hid_t type, int rank, const hsize_t *dims, const hsize_t *chunk,
                    const void *data, const hid_t *dim_scales)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 4);
    hid_t ds = H5Dcreate2(g, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int bad = ds < 0 || H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
    for (int k = 0; k < rank && !bad; k++) H5DSattach_scale(ds, dim_scales[k], (unsigned)k);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return bad;
}

static void set_attr(hid_t g, const char *obj, const char *name, const char *value)
{
    hid_t ds = H5Dopen2(g, obj, H5P_DEFAULT);
    if (ds < 0) return;
    civ_h5_attr_string(ds, name, value);
    H5Dclose(ds);
}

/* /observed: the base study's observed DOHMH series over the simulated dates (real counts) */
static int write_observed(hid_t f, const civ_study *s0, const civ_observed *obs, int steps)
{
    hid_t g = H5Gcreate2(f, "observed", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    scales sc = make_scales(g, s0, steps, 0, false);
    const hid_t dims_sc[2] = {sc.date, sc.boro};
    const hsize_t dims[2] = {(hsize_t)steps, CIV_NBOROUGH};
    const int32_t *series[3] = {obs->cases, obs->hospitalized, obs->deaths};
    static const char *const names[3] = {"cases", "hospitalized", "deaths"};
    static const char *const what[3] = {"confirmed and probable cases by diagnosis date",
                                        "hospital admissions by admission date", "deaths by date of death"};
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        bad |= write_nd(g, names[k], H5T_NATIVE_INT32, 2, dims, dims, series[k], dims_sc);
        set_attr(g, names[k], "description", what[k]);
        set_attr(g, names[k], "units", "people in the real city (not scaled)");
    }
    const char *slash = strrchr(s0->observed_file, '/');
    civ_h5_attr_string(g, "source", "NYC DOHMH daily counts by borough (2025 revision, by date of event)");
    civ_h5_attr_string(g, "file", slash ? slash + 1 : s0->observed_file);
    close_scales(&sc);
    H5Gclose(g);
    return bad;
}

static civ_status write_file(const civ_ensemble_options *o, civ_study *st, const civ_posterior *post, const double *scale,
                             const civ_observed *obs, int n_runs, int steps, int nb, const int32_t *all, int ranks,
                             civ_error *err)
{
    civ_h5_quiet();
    civ_output out;
    civ_status claimed = civ_output_begin(&out, o->output, err);
    if (claimed) return claimed;
    civ_h5_reason_clear();
    hid_t f = H5Fcreate(out.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        claimed = civ_fail(err, CIV_ERR_IO, "%s: cannot create %s: %s", o->output, out.tmp, civ_h5_reason());
        civ_output_abandon(&out);
        return claimed;
    }
    const size_t nv = (size_t)CIV_N_VARS * CIV_NBOROUGH * nb, cells = (size_t)CIV_NBOROUGH * nb;
    const int N = o->seeds;
    bool same_scale = true;
    for (int i = 1; i < o->n_studies; i++) same_scale &= scale[i] == scale[0];
    char start[11], scale_note[256];
    civ_date_format(st[0].start_day, start);
    snprintf(scale_note, sizeof scale_note, "people in the simulated population, a sample of New York City at "
             "population_scale; divide by population_scale for real-city counts");
    int bad = civ_h5_attr_string(f, "schema", CIV_ENSEMBLE_SCHEMA) | civ_h5_attr_string(f, "start_date", start) |
              civ_h5_attr_i64(f, "steps", steps) | civ_h5_attr_i64(f, "seeds_per_study", N) |
              civ_h5_attr_i64(f, "mpi_ranks", ranks) | civ_h5_attr_string(f, "civitas_version", CIVITAS_VERSION) |
              civ_h5_attr_string(f, "base_study", st[0].name);
    if (same_scale) bad |= civ_h5_attr_f64(f, "population_scale", scale[0]);

    /* /runs: every run's series [run][date][borough][age_band], study, seed and scale as run coordinates */
    hid_t g = H5Gcreate2(f, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (same_scale) civ_h5_attr_f64(g, "population_scale", scale[0]);
    civ_h5_attr_string(g, "description", "run r is study r / seeds_per_study with seed study.seed + r % seeds_per_study; "
                       "runs with the same index within their studies share the seed and the posterior draw (paired)");
    scales sc = make_scales(g, &st[0], steps, nb, true);
    const char **names = civ_xcalloc((size_t)n_runs, sizeof(char *));
    int64_t *seeds = civ_xcalloc((size_t)n_runs, sizeof(int64_t));
    int32_t *ridx = civ_xcalloc((size_t)n_runs, sizeof(int32_t));
    double *run_scale = civ_xcalloc((size_t)n_runs, sizeof(double));
    for (int r = 0; r < n_runs; r++) {   /* run r = study r / N with seed study.seed + r % N */
        names[r] = st[r / N].name;
        seeds[r] = (int64_t)st[r / N].seed + (r % N);
        ridx[r] = r;
        run_scale[r] = scale[r / N];
    }
    hid_t run = civ_h5_int_scale(g, "run", n_runs, ridx);
    hsize_t dr[1] = {(hsize_t)n_runs};
    hid_t sp = H5Screate_simple(1, dr, NULL);
    hid_t vs = civ_h5_vlen_str();
    hid_t sname = H5Dcreate2(g, "study", vs, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(sname, vs, H5S_ALL, H5S_ALL, H5P_DEFAULT, names);
    hid_t sseed = H5Dcreate2(g, "seed", H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(sseed, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, seeds);
    hid_t sscale = H5Dcreate2(g, "population_scale", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(sscale, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, run_scale);
    civ_h5_attr_string(sscale, "description", "fraction of New York City's population simulated in the run");
    H5DSattach_scale(sname, run, 0);
    H5DSattach_scale(sseed, run, 0);
    H5DSattach_scale(sscale, run, 0);
    H5Sclose(sp);
    bad |= write_posterior_draws(o, g, run, st, post, n_runs, err);
    const hid_t run_dims[4] = {run, sc.date, sc.boro, sc.band};
    /* every run's series: [run][step][borough][band] */
    int32_t *buf = civ_xmalloc((size_t)n_runs * steps * cells * sizeof(int32_t));
    double *vals = civ_xmalloc((size_t)N * sizeof(double));
    double *stat = civ_xmalloc(4 * (size_t)steps * cells * sizeof(double));
    static const char *const stat_names[4] = {"mean", "median", "p05", "p95"};
    hid_t *sg = civ_xcalloc((size_t)o->n_studies, sizeof(hid_t));
    scales *ssc = civ_xcalloc((size_t)o->n_studies, sizeof(scales));
    hid_t summary = H5Gcreate2(f, "summary", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; i < o->n_studies; i++) {
        sg[i] = H5Gcreate2(summary, st[i].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ssc[i] = make_scales(sg[i], &st[i], steps, nb, true);
    }
    for (int v = 0; v < CIV_N_VARS; v++) {
        for (int r = 0; r < n_runs; r++)
            for (int t = 0; t < steps; t++)
                memcpy(buf + ((size_t)r * steps + t) * cells, all + ((size_t)r * steps + t) * nv + (size_t)v * cells,
                       cells * sizeof(int32_t));
        hsize_t dims[4] = {(hsize_t)n_runs, (hsize_t)steps, CIV_NBOROUGH, (hsize_t)nb}, chunk[4] = {1, (hsize_t)steps, CIV_NBOROUGH, (hsize_t)nb};
        bad |= write_nd(g, civ_var_name[v], H5T_NATIVE_INT32, 4, dims, chunk, buf, run_dims);
        set_attr(g, civ_var_name[v], "description", civ_var_description[v]);
        set_attr(g, civ_var_name[v], "units", scale_note);
        set_attr(g, civ_var_name[v], "coordinates", "study seed population_scale");
        /* per study: mean, median, 5% and 95% over its seeds, shaped [date][borough][age_band] */
        for (int i = 0; i < o->n_studies; i++) {
            for (size_t c = 0; c < (size_t)steps * cells; c++) {
                double sum = 0;
                for (int k = 0; k < N; k++) { vals[k] = buf[(size_t)(i * N + k) * steps * cells + c]; sum += vals[k]; }
                qsort(vals, (size_t)N, sizeof(double), civ_cmp_double);
                stat[c] = sum / N;
                stat[(size_t)steps * cells + c] = civ_quantile_sorted(vals, N, 0.5);
                stat[2 * (size_t)steps * cells + c] = civ_quantile_sorted(vals, N, 0.05);
                stat[3 * (size_t)steps * cells + c] = civ_quantile_sorted(vals, N, 0.95);
            }
            const hid_t sdims[3] = {ssc[i].date, ssc[i].boro, ssc[i].band};
            for (int q = 0; q < 4; q++) {
                char name[160], desc[512];
                snprintf(name, sizeof name, "%s_%s", civ_var_name[v], stat_names[q]);
                bad |= write_nd(sg[i], name, H5T_NATIVE_DOUBLE, 3, dims + 1, chunk + 1, stat + (size_t)q * steps * cells, sdims);
                snprintf(desc, sizeof desc, "%s over the study's %d runs: %s", stat_names[q], N, civ_var_description[v]);
                set_attr(sg[i], name, "description", desc);
                set_attr(sg[i], name, "units", scale_note);
            }
        }
    }
    for (int i = 0; i < o->n_studies; i++) {
        char *cfg = civ_study_resolved_json(&st[i]);
        civ_h5_attr_string(sg[i], "config_json", cfg);
        civ_h5_attr_f64(sg[i], "population_scale", scale[i]);
        civ_h5_attr_i64(sg[i], "runs", N);
        civ_h5_attr_string(sg[i], "role", i == 0 ? "base" : "counterfactual");
        civ_h5_attr_string(sg[i], "layout", "each <variable>_<statistic> is float64 [date][borough][age_band]; statistics "
                           "over the study's runs: mean, median, p05, p95 (linear interpolation, as numpy.quantile)");
        free(cfg);
        close_scales(&ssc[i]);
        H5Gclose(sg[i]);
    }
    H5Gclose(summary);
    if (obs) bad |= write_observed(f, &st[0], obs, steps);
    free(sg); free(ssc);
    free(buf); free(vals); free(stat); free(names); free(seeds); free(ridx); free(run_scale);
    close_scales(&sc);
    H5Dclose(run); H5Dclose(sname); H5Dclose(sseed); H5Dclose(sscale);
    H5Tclose(vs);
    H5Gclose(g);
    bad |= H5Fclose(f) < 0;
    if (bad) {
        civ_output_abandon(&out);
        return civ_fail(err, CIV_ERR_IO, "%s: cannot write the ensemble file: %s", o->output, civ_h5_reason());
    }
    if (civ_interrupted) {
        civ_output_abandon(&out);
        return civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted; nothing was written", o->output);
    }
    return civ_output_commit(&out, err);
}

civ_status civ_ensemble(const civ_ensemble_options *o, civ_error *err)
{
    int rank = 0, ranks = 1;
#ifdef CIVITAS_HAVE_MPI
    int use_mpi = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
    if (use_mpi) {
        MPI_Init(NULL, NULL);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    }
#endif
    const bool quiet = o->quiet || rank != 0;
    civ_study *st = civ_xcalloc((size_t)o->n_studies, sizeof *st);
    civ_status s_ = CIV_OK;
    int loaded = 0;
    for (int i = 0; i < o->n_studies && !s_; i++, loaded++) {
        civ_study_overrides ov = o->ov;
        ov.quiet = true;
        s_ = civ_study_load(o->studies[i], &ov, &st[i], err);
        if (!s_ && i > 0) {
            if (st[i].start_day != st[0].start_day || st[i].steps != st[0].steps || st[i].n_out_bands != st[0].n_out_bands ||
                memcmp(st[i].out_band_edges, st[0].out_band_edges, sizeof st[0].out_band_edges))
                s_ = civ_fail(err, CIV_ERR_INPUT, "%s: start_date, steps and output age bands must match %s in one ensemble",
                              o->studies[i], o->studies[0]);
            for (int k = 0; k < i && !s_; k++)
                if (strcmp(st[i].name, st[k].name) == 0)
                    s_ = civ_fail(err, CIV_ERR_INPUT, "%s: study name '%s' is used twice in the ensemble", o->studies[i], st[i].name);
        }
    }
    civ_posterior *post = civ_xcalloc((size_t)o->n_studies, sizeof *post);
    for (int i = 0; i < loaded && !s_; i++)
        if (st[i].posterior_file) s_ = civ_posterior_load(st[i].posterior_file, &post[i], err);
    /* the output can be written, and replaces no input, before any run starts */
    for (int i = 0; i < loaded && !s_; i++) civ_input_note(st[i].population_file);
    if (!s_) s_ = civ_output_check(o->output, err);   /* every rank alike, so all stop together */
    /* the base study's observed series go into the file, for plots and reports */
    civ_observed obs;
    memset(&obs, 0, sizeof obs);
    const bool has_obs = !s_ && loaded && st[0].observed_file;
    if (has_obs) s_ = civ_observed_load(st[0].observed_file, st[0].start_day, st[0].steps, &obs, err);
    double *scale = civ_xcalloc((size_t)o->n_studies + 1, sizeof(double));   /* each study's population scale */
    /* one GPU per rank where GPUs exist (--backend cuda or auto), the CPU otherwise */
    civ_backend backend = CIV_BACKEND_CPU;
    int device = 0, devices = 0;
    if (!s_ && !(s_ = civ_backend_choose(o->backend, quiet, &backend, &devices, err)) && devices > 0)
        device = rank % devices;
    const int N = o->seeds, n_runs = o->n_studies * N;
    const int steps = loaded ? st[0].steps : 0, nb = loaded ? st[0].n_out_bands : 0;
    const size_t per_run = (size_t)steps * CIV_N_VARS * CIV_NBOROUGH * (size_t)nb;
    int threads = o->threads;
#ifdef _OPENMP
    if (threads <= 0) { threads = omp_get_max_threads() / ranks; if (threads < 1) threads = 1; }
#else
    threads = 1;
#endif
    int mine = 0;
    for (int r = rank; r < n_runs; r += ranks) mine++;
    int32_t *local = civ_xcalloc((size_t)mine * per_run + 1, sizeof(int32_t));
    if (!s_ && !quiet) {
        char per_rank[64];
        if (backend == CIV_BACKEND_CUDA) snprintf(per_rank, sizeof per_rank, "one GPU per rank");
        else snprintf(per_rank, sizeof per_rank, "%d CPU thread%s per rank", threads, threads == 1 ? "" : "s");
        fprintf(stderr, "civitas: ensemble of %d studies x %d seeds = %d runs over %d rank(s), %s\n", o->n_studies, N,
                n_runs, ranks, per_rank);
    }
    pop_cache pc;
    memset(&pc, 0, sizeof pc);
    pc.study = -1;
    double t0 = civ_now();
    for (int r = rank, j = 0; r < n_runs && !s_; r += ranks, j++) {
        int i = r / N, set = posterior_set(post, st, N, r);
        uint64_t base_seed = st[i].seed;
        civ_study drawn, *run_study = &st[i];
        if (set >= 0) {   /* the study again, with the drawn parameter set in the file that names the posterior */
            civ_study_values v = {post[i].n_params, (const char *const *)post[i].paths,
                                  post[i].values + (size_t)set * post[i].n_params, true, st[i].posterior_file};
            civ_study_overrides ov = o->ov;
            ov.quiet = true;
            ov.values = &v;
            if ((s_ = civ_study_load(o->studies[i], &ov, &drawn, err))) { civ_study_free(&drawn); break; }
            run_study = &drawn;
        }
        s_ = run_one(o, run_study, i, base_seed + (uint64_t)(r % N), threads, civ_backend_ops_of(backend), device, &pc,
                     local + (size_t)j * per_run, &scale[i], err);
        st[i].seed = base_seed;
        if (set >= 0) civ_study_free(&drawn);
        if (!s_ && !quiet) {
            char what[64] = "", inf[32], dead[32];
            if (set >= 0) snprintf(what, sizeof what, ", posterior set %d", set);
            const int32_t *mine_run = local + (size_t)j * per_run;
            const size_t cells = (size_t)CIV_NBOROUGH * nb;
            double ni = 0, nd = 0;
            for (int t = 0; t < steps; t++)
                for (size_t c = 0; c < cells; c++) {
                    ni += mine_run[(size_t)t * CIV_N_VARS * cells + (size_t)CIV_VAR_NEW_INFECTIONS * cells + c];
                    nd += mine_run[(size_t)t * CIV_N_VARS * cells + (size_t)CIV_VAR_NEW_DEATHS * cells + c];
                }
            civ_fmt_count(civ_real(ni, scale[i]), 3, inf, sizeof inf);
            civ_fmt_count(civ_real(nd, scale[i]), 3, dead, sizeof dead);
            fprintf(stderr, "civitas: run %d/%d (%s, seed %llu%s) done: %s infections, %s deaths in the real city "
                    "(scale %g), %.1fs elapsed\n", r + 1, n_runs, st[i].name,
                    (unsigned long long)(base_seed + (uint64_t)(r % N)), what, inf, dead, scale[i], civ_now() - t0);
        }
    }
    if (pc.study >= 0) civ_population_free(&pc.pop);
    pc.study = -1;

    int32_t *all = NULL;
#ifdef CIVITAS_HAVE_MPI
    if (ranks > 1) {
        int mine_failed = s_ != CIV_OK, any_failed = 0;
        MPI_Allreduce(&mine_failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (any_failed) {
            if (!s_) s_ = civ_fail(err, CIV_ERR_RUNTIME, "another MPI rank failed (see its message above)");
        } else {
            /* every study's scale from a rank that ran it (the same on all of them) */
            MPI_Allreduce(MPI_IN_PLACE, scale, o->n_studies, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            /* gather every rank's runs; rank q holds runs q, q + R, ... in order */
            int *counts = civ_xcalloc((size_t)ranks, sizeof(int)), *displs = civ_xcalloc((size_t)ranks, sizeof(int));
            int32_t *gathered = NULL;
            for (int q = 0, off = 0; q < ranks; q++) {
                int m = 0;
                for (int r = q; r < n_runs; r += ranks) m++;
                counts[q] = (int)((size_t)m * per_run);
                displs[q] = off;
                off += counts[q];
            }
            if (rank == 0) gathered = civ_xmalloc((size_t)n_runs * per_run * sizeof(int32_t) + 1);
            MPI_Gatherv(local, (int)((size_t)mine * per_run), MPI_INT32_T, gathered, counts, displs, MPI_INT32_T, 0, MPI_COMM_WORLD);
            if (rank == 0) {
                all = civ_xmalloc((size_t)n_runs * per_run * sizeof(int32_t) + 1);
                for (int q = 0; q < ranks; q++) {
                    int j = 0;
                    for (int r = q; r < n_runs; r += ranks, j++)
                        memcpy(all + (size_t)r * per_run, gathered + displs[q] + (size_t)j * per_run, per_run * sizeof(int32_t));
                }
                free(gathered);
            }
            free(counts);
            free(displs);
        }
    }
#endif
    if (ranks == 1 && !s_) { all = local; local = NULL; }
    if (!s_ && rank == 0) {
        s_ = write_file(o, st, post, scale, has_obs ? &obs : NULL, n_runs, steps, nb, all, ranks, err);
        if (!s_ && !quiet)
            fprintf(stderr, "civitas: wrote %s (%d runs, %.1fs; rank 0 built %d population(s) for its %d runs)\n",
                    o->output, n_runs, civ_now() - t0, pc.populations_built, mine);
    }
    free(all);
    free(local);
    free(scale);
    civ_observed_free(&obs);
    for (int i = 0; i < loaded; i++) civ_study_free(&st[i]);
    for (int i = 0; i < o->n_studies; i++) civ_posterior_free(&post[i]);
    free(post);
    free(st);
#ifdef CIVITAS_HAVE_MPI
    if (use_mpi) MPI_Finalize();
#endif
    return s_;
}
