#include "host/output/trajectory.h"

#include <hdf5_hl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/util/date.h"
#include "host/util/file.h"
#include "host/util/h5_util.h"

#define CIV_MAX_SNAPSHOT_FIELDS 16

struct civ_traj {
    hid_t f;
    civ_output out;   /* written as <path>.partial, renamed into place by civ_traj_close */
    bool write_failed;
    char *path;
    hid_t var[CIV_N_VARS], date;
    hid_t tables, table_step, prompts, answers, latency, requests, cache_hits, n_fallbacks;
    hid_t fallback, fb_step, fb_arch, fb_reason;
    hid_t retries, rejected, extracted, invalid_utf8, prompt_tokens, completion_tokens, wall_s, degenerate;
    hid_t rejection, rj_step, rj_arch, rj_sample, rj_round, rj_reason, rj_answer;
    int samples, n_fb, n_rj;
    hid_t snap_step, snap[CIV_MAX_SNAPSHOT_FIELDS];   /* snap[k]: the k-th snapshot field of covid_agents.h */
    int n_snap_fields;
    int rows, n_tables, n_snaps, nb, n_arch;
    uint32_t n_agents;
};

/* The agent fields written on snapshot days (snapshot column of covid_agents.h), in list order. */
typedef struct {
    const char *name;
    hid_t type;
    const void *data;
} snapshot_field;

static int snapshot_fields(const civ_agents *a, snapshot_field *out)
{
    int n = 0;
#define CIV_SNAPSHOT_FIELD(type, name, kind, init, snap, doc)                                \
    if (snap && n < CIV_MAX_SNAPSHOT_FIELDS)                                                 \
        out[n++] = (snapshot_field){#name, CIV_H5_NATIVE(type), a ? (const void *)a->name : NULL};
    CIV_AGENT_FIELDS(CIV_SNAPSHOT_FIELD)
#undef CIV_SNAPSHOT_FIELD
    return n;
}

static hid_t make_extendible(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims_tail,
                             const hsize_t *chunk, int deflate)
{
    hsize_t dims[3] = {0, 0, 0}, maxd[3] = {H5S_UNLIMITED, 0, 0};
    for (int k = 1; k < rank; k++) dims[k] = maxd[k] = dims_tail[k - 1];
    hid_t space = H5Screate_simple(rank, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunk);
    if (deflate) { H5Pset_shuffle(dcpl); H5Pset_deflate(dcpl, deflate); }
    hid_t ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    return ds;
}

/* Appends one row (all trailing dims) at index row. */
static herr_t append_row(hid_t ds, int rank, hsize_t row, const hsize_t *tail, hid_t mtype, const void *data)
{
    hsize_t dims[3] = {row + 1, 0, 0}, start[3] = {row, 0, 0}, count[3] = {1, 0, 0};
    for (int k = 1; k < rank; k++) dims[k] = count[k] = tail[k - 1];
    if (H5Dset_extent(ds, dims) < 0) return -1;
    hid_t fs = H5Dget_space(ds);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(rank, count, NULL);
    herr_t rc = H5Dwrite(ds, mtype, ms, fs, H5P_DEFAULT, data);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc;
}

/* Appends n values to a 1-D dataset that holds `have` (one write, not n). */
static herr_t append_1d(hid_t ds, hsize_t have, hsize_t n, hid_t mtype, const void *data)
{
    if (n == 0) return 0;
    hsize_t dims[1] = {have + n}, start[1] = {have}, count[1] = {n};
    if (H5Dset_extent(ds, dims) < 0) return -1;
    hid_t fs = H5Dget_space(ds);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(1, count, NULL);
    herr_t rc = H5Dwrite(ds, mtype, ms, fs, H5P_DEFAULT, data);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc;
}

/* An extendible int32 dimension scale (one entry per appended row). */
static hid_t extendible_scale(hid_t loc, const char *name)
{
    hsize_t chunk[1] = {256};
    hid_t ds = make_extendible(loc, name, H5T_NATIVE_INT32, 1, NULL, chunk, 0);
    H5DSset_scale(ds, name);
    return ds;
}

static void date_units(hid_t ds, int start_day)
{
    char d[11], units[64];
    civ_date_format(start_day, d);
    snprintf(units, sizeof units, "days since %s", d);
    civ_h5_attr_string(ds, "units", units);
    civ_h5_attr_string(ds, "calendar", "standard");
    civ_h5_attr_string(ds, "long_name", "simulated day (calendar date)");
}

civ_status civ_traj_create(civ_traj **out, const char *path, const civ_engine *e, const char *backend,
                           const char *population_source, const civ_observed *obs, civ_error *err)
{
    civ_h5_quiet();
    const civ_study *s = e->study;
    civ_output claim;
    civ_status st = civ_output_begin(&claim, path, err);
    if (st) return st;
    civ_h5_reason_clear();
    hid_t f = H5Fcreate(claim.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot create %s: %s", path, claim.tmp, civ_h5_reason());
        civ_output_abandon(&claim);
        return st;
    }
    civ_traj *t = civ_xcalloc(1, sizeof *t);
    t->f = f;
    t->out = claim;
    t->path = strdup(path);
    t->nb = e->n_out_bands;
    t->n_arch = e->table.n_archetypes;
    t->n_agents = e->pop->n_agents;

    /* root attributes: everything needed to reproduce the run */
    char start[11], created[32];
    civ_date_format(s->start_day, start);
    time_t now = time(NULL);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    char *cfg = civ_study_resolved_json(s), study_file[1024];
    civ_study_recorded_name(s->study_file, study_file, sizeof study_file);
    int bad = civ_h5_attr_string(f, "schema", CIV_TRAJ_SCHEMA) | civ_h5_attr_string(f, "civitas_version", CIVITAS_VERSION) |
        civ_h5_attr_string(f, "git", CIVITAS_GIT) | civ_h5_attr_string(f, "backend", backend) |
        civ_h5_attr_u64(f, "seed", s->seed) | civ_h5_attr_string(f, "study", s->name) |
        civ_h5_attr_string(f, "study_file", study_file) | civ_h5_attr_string(f, "start_date", start) |
        civ_h5_attr_i64(f, "steps_planned", s->steps) | civ_h5_attr_i64(f, "steps_completed", 0) |
        civ_h5_attr_string(f, "status", "running") | civ_h5_attr_string(f, "created", created) |
        civ_h5_attr_string(f, "config_json", cfg) | civ_h5_attr_u64(f, "n_agents", e->pop->n_agents) |
        civ_h5_attr_f64(f, "population_scale", e->pop->scale) | civ_h5_attr_string(f, "population", population_source) |
        civ_h5_attr_u64(f, "initial_infections", e->seeded) | civ_h5_attr_i64(f, "threads", e->threads);
    free(cfg);

    /* time series */
    hid_t g = H5Gcreate2(f, "timeseries", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    /* where xarray users see it (Dataset.attrs): the counts are a sample of the city */
    civ_h5_attr_f64(g, "population_scale", e->pop->scale);
    civ_h5_attr_string(g, "counts", "people in the simulated population; divide by population_scale for the real city");
    t->date = extendible_scale(g, "date");
    date_units(t->date, s->start_day);
    hid_t boro = civ_h5_string_scale(g, "borough", CIV_NBOROUGH, civ_borough_code);
    civ_h5_attr_string(boro, "long_name", "Bronx, Brooklyn, Manhattan, Queens, Staten Island");
    char labels[CIV_MAX_BANDS][16];
    const char *lp[CIV_MAX_BANDS];
    for (int b = 0; b < t->nb; b++) {
        civ_age_band_label(s->out_band_edges, t->nb, b, labels[b], sizeof labels[b]);
        lp[b] = labels[b];
    }
    hid_t band = civ_h5_string_scale(g, "age_band", t->nb, lp);
    hsize_t tail[2] = {CIV_NBOROUGH, (hsize_t)t->nb}, chunk[3] = {64, CIV_NBOROUGH, (hsize_t)t->nb};
    for (int v = 0; v < CIV_N_VARS; v++) {
        t->var[v] = make_extendible(g, civ_var_name[v], H5T_NATIVE_INT32, 3, tail, chunk, 4);
        bad |= t->var[v] < 0;
        civ_h5_attr_string(t->var[v], "description", civ_var_description[v]);
        civ_h5_attr_string(t->var[v], "units", "persons");
        H5DSattach_scale(t->var[v], t->date, 0);
        H5DSattach_scale(t->var[v], boro, 1);
        H5DSattach_scale(t->var[v], band, 2);
    }
    H5Dclose(boro);
    H5Dclose(band);
    H5Gclose(g);

    /* behaviour: decision tables per refresh and, for LLM modes, prompts, answers, fallbacks, latency.
       Heuristic runs write the same structure so one script compares the two. */
    g = H5Gcreate2(f, "llm", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    static const char *const modes[3] = {"heuristic", "llm", "replay"};
    const civ_llm_settings *L = &s->llm;
    civ_h5_attr_string(g, "mode", modes[s->behavior_mode]);
    civ_h5_attr_i64(g, "refresh_days", s->refresh_days);
    if (s->behavior_mode != CIV_BEHAVIOR_HEURISTIC) {
        civ_h5_attr_string(g, "model", L->model ? L->model : "(replay)");
        civ_h5_attr_string(g, "base_url", L->base_url ? L->base_url : "(replay)");
        civ_h5_attr_string(g, "system_prompt", L->system_prompt);
        civ_h5_attr_string(g, "user_prompt_template", L->user_prompt);
        civ_h5_attr_string(g, "answers_file", s->behavior_mode == CIV_BEHAVIOR_REPLAY ? L->replay_file : L->cache_file);
        civ_h5_attr_f64(g, "temperature", L->temperature);
        civ_h5_attr_f64(g, "smoothing", L->smoothing);
        civ_h5_attr_f64(g, "deadline_s", L->deadline_s);
        civ_h5_attr_string(g, "on_error", L->on_error_fallback ? "fallback" : "fail");
    }
    t->samples = s->behavior_mode == CIV_BEHAVIOR_HEURISTIC ? 1 : L->samples;
    t->table_step = extendible_scale(g, "refresh_step");
    char (*alab)[48] = civ_xcalloc((size_t)t->n_arch, 48);
    const char **ap = civ_xcalloc((size_t)t->n_arch, sizeof(char *));
    for (int a = 0; a < t->n_arch; a++) { civ_archetype_label(&e->table, a, alab[a], 48); ap[a] = alab[a]; }
    hid_t arch = civ_h5_string_scale(g, "archetype", t->n_arch, ap);
    hid_t dec = civ_h5_string_scale(g, "decision", CIV_N_DECISION, civ_decision_name);
    int32_t sidx[64];
    for (int k = 0; k < t->samples; k++) sidx[k] = k;
    hid_t sample = civ_h5_int_scale(g, "sample", t->samples, sidx);
    t->fallback = extendible_scale(g, "fallback");
    hsize_t atail[2] = {(hsize_t)t->n_arch, CIV_N_DECISION}, achunk[3] = {16, (hsize_t)t->n_arch, CIV_N_DECISION};
    t->tables = make_extendible(g, "tables", H5T_NATIVE_FLOAT, 3, atail, achunk, 4);
    civ_h5_attr_string(t->tables, "description", "p[archetype][decision] in force from refresh_step on");
    hid_t vs = civ_h5_vlen_str();
    hsize_t ptail[1] = {(hsize_t)t->n_arch}, pchunk[2] = {1, (hsize_t)t->n_arch};
    t->prompts = make_extendible(g, "prompts", vs, 2, ptail, pchunk, 0);
    civ_h5_attr_string(t->prompts, "description", "rendered user prompt per archetype (empty: heuristic, or no agents)");
    hsize_t qtail[2] = {(hsize_t)t->n_arch, (hsize_t)t->samples}, qchunk[3] = {1, (hsize_t)t->n_arch, (hsize_t)t->samples};
    t->answers = make_extendible(g, "answers", vs, 3, qtail, qchunk, 0);
    civ_h5_attr_string(t->answers, "description", "raw answer text per sample, or 'ERROR: reason'");
    hsize_t c1[1] = {256};
    t->latency = make_extendible(g, "latency_s", H5T_NATIVE_DOUBLE, 1, NULL, c1, 0);
    t->requests = make_extendible(g, "requests", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->cache_hits = make_extendible(g, "cache_hits", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->n_fallbacks = make_extendible(g, "fallbacks", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->fb_step = make_extendible(g, "fallback_step", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->fb_arch = make_extendible(g, "fallback_archetype", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->fb_reason = make_extendible(g, "fallback_reason", vs, 1, NULL, c1, 0);
    /* the cost and the faults of each refresh, and every answer it did not accept */
    t->retries = make_extendible(g, "retries", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->rejected = make_extendible(g, "rejected", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->extracted = make_extendible(g, "extracted", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->invalid_utf8 = make_extendible(g, "invalid_utf8", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->prompt_tokens = make_extendible(g, "prompt_tokens", H5T_NATIVE_INT64, 1, NULL, c1, 0);
    t->completion_tokens = make_extendible(g, "completion_tokens", H5T_NATIVE_INT64, 1, NULL, c1, 0);
    t->wall_s = make_extendible(g, "wall_s", H5T_NATIVE_DOUBLE, 1, NULL, c1, 0);
    t->degenerate = make_extendible(g, "degenerate", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    civ_h5_attr_string(t->requests, "description", "HTTP requests sent, retries included");
    civ_h5_attr_string(t->retries, "description", "requests sent again after a timeout, connection error, 408, 429 or 5xx");
    civ_h5_attr_string(t->rejected, "description", "answers not accepted, every validation round (see rejected_*)");
    civ_h5_attr_string(t->extracted, "description", "answers whose JSON object was extracted from text around it "
                       "(a <think> block, code fences, prose)");
    civ_h5_attr_string(t->invalid_utf8, "description", "bytes from the server that were not UTF-8, replaced by U+FFFD");
    civ_h5_attr_string(t->prompt_tokens, "description", "prompt tokens the server reported (usage); -1: not reported");
    civ_h5_attr_string(t->completion_tokens, "description", "completion tokens the server reported (usage); -1: not reported");
    civ_h5_attr_string(t->latency, "description", "seconds spent waiting on the server");
    civ_h5_attr_string(t->wall_s, "description", "seconds the whole refresh took (bounded by deadline_s)");
    civ_h5_attr_string(t->degenerate, "description", "1: every archetype got the same answer; 2: the answers did not "
                       "change for 3 refreshes; 3: both");
    t->rejection = extendible_scale(g, "rejection");
    t->rj_step = make_extendible(g, "rejected_step", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->rj_arch = make_extendible(g, "rejected_archetype", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->rj_sample = make_extendible(g, "rejected_sample", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->rj_round = make_extendible(g, "rejected_round", H5T_NATIVE_INT32, 1, NULL, c1, 0);
    t->rj_reason = make_extendible(g, "rejected_reason", vs, 1, NULL, c1, 0);
    t->rj_answer = make_extendible(g, "rejected_answer", vs, 1, NULL, c1, 0);
    civ_h5_attr_string(t->rj_round, "description", "0: first request; k: validation retry k");
    civ_h5_attr_string(t->rj_answer, "description", "the answer text, or 'ERROR: reason'");
    H5Tclose(vs);
    hid_t per_refresh[] = {t->latency, t->requests, t->cache_hits, t->n_fallbacks, t->retries, t->rejected,
                           t->extracted, t->invalid_utf8, t->prompt_tokens, t->completion_tokens, t->wall_s,
                           t->degenerate};
    for (size_t k = 0; k < sizeof per_refresh / sizeof per_refresh[0]; k++) H5DSattach_scale(per_refresh[k], t->table_step, 0);
    hid_t per_fb[] = {t->fb_step, t->fb_arch, t->fb_reason};
    for (size_t k = 0; k < 3; k++) H5DSattach_scale(per_fb[k], t->fallback, 0);
    hid_t per_rj[] = {t->rj_step, t->rj_arch, t->rj_sample, t->rj_round, t->rj_reason, t->rj_answer};
    for (size_t k = 0; k < sizeof per_rj / sizeof per_rj[0]; k++) H5DSattach_scale(per_rj[k], t->rejection, 0);
    H5DSattach_scale(t->tables, t->table_step, 0);
    H5DSattach_scale(t->tables, arch, 1);
    H5DSattach_scale(t->tables, dec, 2);
    H5DSattach_scale(t->prompts, t->table_step, 0);
    H5DSattach_scale(t->prompts, arch, 1);
    H5DSattach_scale(t->answers, t->table_step, 0);
    H5DSattach_scale(t->answers, arch, 1);
    H5DSattach_scale(t->answers, sample, 2);
    bad |= civ_h5_write_1d(g, "agents_per_archetype", H5T_NATIVE_INT64, (uint64_t)t->n_arch, e->agents_per_archetype,
                           path, err) != CIV_OK;
    if (!bad) {
        hid_t apa = H5Dopen2(g, "agents_per_archetype", H5P_DEFAULT);
        H5DSattach_scale(apa, arch, 0);
        H5Dclose(apa);
    }
    free(alab); free(ap);
    H5Dclose(arch);
    H5Dclose(dec);
    H5Dclose(sample);
    H5Gclose(g);

    /* observed data over the simulated dates */
    if (obs) {
        g = H5Gcreate2(f, "observed", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        civ_h5_attr_string(g, "source", "NYC DOHMH coronavirus-data trends/data-by-day.csv (2025 revision), see data/README.md");
        civ_h5_attr_f64(g, "scale_to_population", e->pop->scale);
        int32_t *days = civ_xmalloc((size_t)obs->steps * sizeof(int32_t));
        for (int k = 0; k < obs->steps; k++) days[k] = k;
        hid_t od = civ_h5_int_scale(g, "date", obs->steps, days);
        date_units(od, s->start_day);
        free(days);
        hid_t ob = civ_h5_string_scale(g, "borough", CIV_NBOROUGH, civ_borough_code);
        const int32_t *series[3] = {obs->cases, obs->hospitalized, obs->deaths};
        static const char *const names[3] = {"cases", "hospitalized", "deaths"};
        for (int k = 0; k < 3; k++) {
            hsize_t dims[2] = {(hsize_t)obs->steps, CIV_NBOROUGH};
            hid_t sp = H5Screate_simple(2, dims, NULL);
            hid_t ds = H5Dcreate2(g, names[k], H5T_NATIVE_INT32, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            bad |= ds < 0 || H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, series[k]) < 0;
            H5DSattach_scale(ds, od, 0);
            H5DSattach_scale(ds, ob, 1);
            civ_h5_attr_string(ds, "units", "persons per day (real city; multiply by scale_to_population to compare)");
            H5Dclose(ds);
            H5Sclose(sp);
        }
        H5Dclose(od);
        H5Dclose(ob);
        H5Gclose(g);
    }

    /* per-agent snapshots */
    t->snap_step = -1;
    for (int k = 0; k < CIV_MAX_SNAPSHOT_FIELDS; k++) t->snap[k] = -1;
    if (s->n_snapshots) {
        g = H5Gcreate2(f, "agents", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        civ_h5_attr_string(g, "description", "per-agent state at the snapshot steps; agent index = row in the population file. "
                           "stage: 0 S,1 E,2 P,3 A,4 M,5 V(severe),6 H,7 R,8 D; flags bits: 1 isolating (symptoms), "
                           "2 test pending, 8 confirmed; labour: 0 not in labour force, 1 employed, 2 unemployed");
        t->snap_step = extendible_scale(g, "step");
        hsize_t stail[1] = {t->n_agents};
        hsize_t schunk[2] = {1, t->n_agents < (1u << 22) ? t->n_agents : (1u << 22)};
        snapshot_field fields[CIV_MAX_SNAPSHOT_FIELDS];
        t->n_snap_fields = snapshot_fields(NULL, fields);
        for (int k = 0; k < t->n_snap_fields; k++)
            t->snap[k] = make_extendible(g, fields[k].name, fields[k].type, 2, stail, schunk, 1);
        /* agent index scale (compresses to almost nothing) so xarray sees named dimensions */
        uint32_t *idx = civ_xmalloc((size_t)t->n_agents * sizeof(uint32_t));
        for (uint32_t i = 0; i < t->n_agents; i++) idx[i] = i;
        bad |= civ_h5_write_1d(g, "agent", H5T_NATIVE_UINT32, t->n_agents, idx, path, err) != CIV_OK;
        free(idx);
        hid_t agent = H5Dopen2(g, "agent", H5P_DEFAULT);
        H5DSset_scale(agent, "agent");
        for (int k = 0; k < t->n_snap_fields; k++) {
            H5DSattach_scale(t->snap[k], t->snap_step, 0);
            H5DSattach_scale(t->snap[k], agent, 1);
        }
        H5Dclose(agent);
        H5Gclose(g);
    }
    if (bad || H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) {
        civ_fail(err, CIV_ERR_IO, "%s: cannot write the file's layout: %s", path, civ_h5_reason());
        t->write_failed = true;
        civ_traj_close(t, "failed", false, NULL);
        return err->status;
    }
    *out = t;
    return CIV_OK;
}

static int set_attr_i64(hid_t loc, const char *name, int64_t v)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t rc = H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

static int set_attr_str(hid_t loc, const char *name, const char *v)
{
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    return civ_h5_attr_string(loc, name, v) ? -1 : 0;
}

civ_status civ_traj_append(civ_traj *t, const civ_engine *e, civ_error *err)
{
    int step = e->day - 1;
    hsize_t tail[2] = {CIV_NBOROUGH, (hsize_t)t->nb};
    int bad = 0;
    const size_t per_var = (size_t)CIV_NBOROUGH * (size_t)t->nb;
    for (int v = 0; v < CIV_N_VARS; v++)
        bad |= append_row(t->var[v], 3, (hsize_t)t->rows, tail, H5T_NATIVE_INT32, e->series + v * per_var) < 0;
    int32_t d = step;
    bad |= append_row(t->date, 1, (hsize_t)t->rows, NULL, H5T_NATIVE_INT32, &d) < 0;
    if (e->table_refreshed) {
        hsize_t at[2] = {(hsize_t)t->n_arch, CIV_N_DECISION}, pt[1] = {(hsize_t)t->n_arch},
                qt[2] = {(hsize_t)t->n_arch, (hsize_t)t->samples};
        const civ_refresh_record *r = e->bridge ? &e->bridge->rec : NULL;
        const size_t na = (size_t)t->n_arch * (size_t)t->samples;
        const char **prompts = civ_xcalloc((size_t)t->n_arch, sizeof(char *));
        const char **answers = civ_xcalloc(na, sizeof(char *));
        for (int a = 0; a < t->n_arch; a++) prompts[a] = r && r->prompts[a] ? r->prompts[a] : "";
        for (size_t k = 0; k < na; k++) answers[k] = r && r->answers[k] ? r->answers[k] : "";
        double latency = r ? r->latency_s : 0;
        int32_t req = r ? r->requests : 0, hits = r ? r->cache_hits : 0, nfb = r ? r->fallbacks : 0;
        hid_t vs = civ_h5_vlen_str();
        hsize_t row = (hsize_t)t->n_tables;
        bad |= append_row(t->tables, 3, row, at, H5T_NATIVE_FLOAT, e->table.p) < 0;
        bad |= append_row(t->table_step, 1, row, NULL, H5T_NATIVE_INT32, &d) < 0;
        bad |= append_row(t->prompts, 2, row, pt, vs, prompts) < 0;
        bad |= append_row(t->answers, 3, row, qt, vs, answers) < 0;
        bad |= append_row(t->latency, 1, row, NULL, H5T_NATIVE_DOUBLE, &latency) < 0;
        bad |= append_row(t->requests, 1, row, NULL, H5T_NATIVE_INT32, &req) < 0;
        bad |= append_row(t->cache_hits, 1, row, NULL, H5T_NATIVE_INT32, &hits) < 0;
        bad |= append_row(t->n_fallbacks, 1, row, NULL, H5T_NATIVE_INT32, &nfb) < 0;
        for (int k = 0; k < nfb; k++) {
            int32_t fi = t->n_fb, fa = r->fallback_archetype[k];
            const char *why = r->fallback_reason[k];
            bad |= append_row(t->fallback, 1, (hsize_t)t->n_fb, NULL, H5T_NATIVE_INT32, &fi) < 0;
            bad |= append_row(t->fb_step, 1, (hsize_t)t->n_fb, NULL, H5T_NATIVE_INT32, &d) < 0;
            bad |= append_row(t->fb_arch, 1, (hsize_t)t->n_fb, NULL, H5T_NATIVE_INT32, &fa) < 0;
            bad |= append_row(t->fb_reason, 1, (hsize_t)t->n_fb, NULL, vs, &why) < 0;
            t->n_fb++;
        }
        int32_t retries = r ? r->retries : 0, nrj = r ? r->rejected : 0, extracted = r ? r->extracted : 0,
                bad_utf8 = r ? r->invalid_utf8 : 0, degenerate = r ? r->degenerate : 0;
        int64_t ptok = r ? r->prompt_tokens : 0, ctok = r ? r->completion_tokens : 0;
        double wall = r ? r->wall_s : 0;
        bad |= append_row(t->retries, 1, row, NULL, H5T_NATIVE_INT32, &retries) < 0;
        bad |= append_row(t->rejected, 1, row, NULL, H5T_NATIVE_INT32, &nrj) < 0;
        bad |= append_row(t->extracted, 1, row, NULL, H5T_NATIVE_INT32, &extracted) < 0;
        bad |= append_row(t->invalid_utf8, 1, row, NULL, H5T_NATIVE_INT32, &bad_utf8) < 0;
        bad |= append_row(t->prompt_tokens, 1, row, NULL, H5T_NATIVE_INT64, &ptok) < 0;
        bad |= append_row(t->completion_tokens, 1, row, NULL, H5T_NATIVE_INT64, &ctok) < 0;
        bad |= append_row(t->wall_s, 1, row, NULL, H5T_NATIVE_DOUBLE, &wall) < 0;
        bad |= append_row(t->degenerate, 1, row, NULL, H5T_NATIVE_INT32, &degenerate) < 0;
        if (nrj > 0) {   /* one write per dataset: a refresh may reject hundreds of answers */
            int32_t *iv = civ_xmalloc(5 * sizeof(int32_t) * (size_t)nrj);
            const char **sv = civ_xmalloc(2 * sizeof(char *) * (size_t)nrj);
            for (int k = 0; k < nrj; k++) {
                const civ_rejection *x = &r->rejections[k];
                iv[k] = t->n_rj + k;
                iv[nrj + k] = d;
                iv[2 * nrj + k] = x->archetype;
                iv[3 * nrj + k] = x->sample;
                iv[4 * nrj + k] = x->round;
                sv[k] = x->reason;
                sv[nrj + k] = x->answer;
            }
            const hsize_t have = (hsize_t)t->n_rj, n = (hsize_t)nrj;
            hid_t ints[] = {t->rejection, t->rj_step, t->rj_arch, t->rj_sample, t->rj_round};
            for (int k = 0; k < 5; k++) bad |= append_1d(ints[k], have, n, H5T_NATIVE_INT32, iv + (size_t)k * nrj) < 0;
            bad |= append_1d(t->rj_reason, have, n, vs, sv) < 0;
            bad |= append_1d(t->rj_answer, have, n, vs, sv + nrj) < 0;
            free(iv);
            free(sv);
            t->n_rj += nrj;
        }
        H5Tclose(vs);
        free(prompts);
        free(answers);
        t->n_tables++;
    }
    const civ_study *s = e->study;
    for (int k = 0; k < s->n_snapshots; k++)
        if (s->snapshot_steps[k] == step) {
            hsize_t st[1] = {t->n_agents};
            snapshot_field fields[CIV_MAX_SNAPSHOT_FIELDS];
            snapshot_fields(&e->a, fields);
            for (int f = 0; f < t->n_snap_fields; f++)
                bad |= append_row(t->snap[f], 2, (hsize_t)t->n_snaps, st, fields[f].type, fields[f].data) < 0;
            bad |= append_row(t->snap_step, 1, (hsize_t)t->n_snaps, NULL, H5T_NATIVE_INT32, &d) < 0;
            t->n_snaps++;
            break;
        }
    /* rows first, then the counter: a reader never sees a count beyond the data */
    bad |= H5Fflush(t->f, H5F_SCOPE_GLOBAL) < 0;
    t->rows++;
    bad |= set_attr_i64(t->f, "steps_completed", t->rows) < 0;
    bad |= H5Fflush(t->f, H5F_SCOPE_GLOBAL) < 0;
    if (bad) {
        t->write_failed = true;
        return civ_fail(err, CIV_ERR_IO, "%s: cannot write day %d: %s", t->path, step, civ_h5_reason());
    }
    return CIV_OK;
}

civ_status civ_traj_close(civ_traj *t, const char *status, bool keep, civ_error *err)
{
    int bad = t->write_failed || set_attr_str(t->f, "status", status) < 0;
    hid_t ids[] = {t->date, t->tables, t->table_step, t->prompts, t->answers, t->latency, t->requests, t->cache_hits,
                   t->n_fallbacks, t->fallback, t->fb_step, t->fb_arch, t->fb_reason, t->snap_step, t->retries,
                   t->rejected, t->extracted, t->invalid_utf8, t->prompt_tokens, t->completion_tokens, t->wall_s,
                   t->degenerate, t->rejection, t->rj_step, t->rj_arch, t->rj_sample, t->rj_round, t->rj_reason,
                   t->rj_answer};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) if (ids[k] > 0) H5Dclose(ids[k]);
    for (int v = 0; v < CIV_N_VARS; v++) if (t->var[v] > 0) H5Dclose(t->var[v]);
    for (int k = 0; k < CIV_MAX_SNAPSHOT_FIELDS; k++) if (t->snap[k] > 0) H5Dclose(t->snap[k]);
    bad |= H5Fclose(t->f) < 0;
    civ_status st = CIV_OK;
    civ_error ignored = {0};
    if (!err) err = &ignored;
    if (bad || !keep) {   /* a file that could not be written whole is not left behind */
        if (bad && !t->write_failed) st = civ_fail(err, CIV_ERR_IO, "%s: cannot finish the file: %s", t->path, civ_h5_reason());
        civ_output_abandon(&t->out);
    } else {
        st = civ_output_commit(&t->out, err);
    }
    free(t->path);
    free(t);
    return st;
}
