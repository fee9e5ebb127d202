#include "host/output/info.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/h5_util.h"
#include "host/population/population.h"
#include "host/output/trajectory.h"
#include "host/output/units.h"

static civ_status open_file(const char *path, hid_t *f, char **schema, civ_error *err)
{
    *f = civ_h5_open_input(path, "civitas file", err);
    if (*f < 0) return err->status;
    *schema = civ_h5_read_attr_string(*f, "schema");
    if (!*schema) {
        char found[160];
        civ_h5_attr_found(*f, "schema", found, sizeof found);
        H5Fclose(*f);
        return civ_fail(err, CIV_ERR_INPUT, "%s: attribute 'schema' is %s, expected a string: not a civitas file", path,
                        found);
    }
    return CIV_OK;
}

/* Opens dataset `name` of f as integer counts of `rank` dimensions: its id, its dataspace in *space, its
 * dims (zeros unless it has that rank) and its shape as text; -1 (f left open) with err naming the file,
 * the dataset and what was found when it is not a dataset of integers. */
static hid_t open_counts(hid_t f, const char *path, const char *name, int rank, hsize_t *dims, hid_t *space,
                         char *shape, size_t shape_len, civ_error *err)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) {
        civ_fail(err, CIV_ERR_INPUT, "%s: '%s' is not a dataset", path, name);
        return -1;
    }
    hid_t sp = H5Dget_space(ds), ft = H5Dget_type(ds);
    const int fits = civ_h5_type_fits(ft, H5T_NATIVE_INT);
    char type[64];
    civ_h5_type_text(ft, type, sizeof type);
    civ_h5_shape_text(sp, shape, shape_len);
    H5Tclose(ft);
    for (int k = 0; k < rank; k++) dims[k] = 0;
    if (H5Sget_simple_extent_type(sp) == H5S_SIMPLE && H5Sget_simple_extent_ndims(sp) == rank)
        H5Sget_simple_extent_dims(sp, dims, NULL);
    if (!fits) {
        H5Sclose(sp);
        H5Dclose(ds);
        civ_fail(err, CIV_ERR_INPUT, "%s: dataset '%s' has type %s, expected integer counts (int32)", path, name, type);
        return -1;
    }
    *space = sp;
    return ds;
}

civ_status civ_read_borough_series(const char *path, const char *var, int **out, int *steps, civ_error *err)
{
    hid_t f;
    char *schema;
    civ_status st = open_file(path, &f, &schema, err);
    if (st) return st;
    free(schema);
    char name[128];
    snprintf(name, sizeof name, "timeseries/%s", var);
    if (H5Lexists(f, "timeseries", H5P_DEFAULT) <= 0 || H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        H5Fclose(f);
        return civ_fail(err, CIV_ERR_INPUT, "%s: no dataset '%s' (not a civitas run file?)", path, name);
    }
    /* the days the file vouches for: rows past steps_completed may belong to a day cut off by a kill */
    int64_t done = -1;
    if (civ_h5_read_attr_i64(f, "steps_completed", &done)) {
        char found[160];
        civ_h5_attr_found(f, "steps_completed", found, sizeof found);
        H5Fclose(f);
        return civ_fail(err, CIV_ERR_INPUT, "%s: attribute 'steps_completed' is %s, expected an integer", path, found);
    }
    if (done < 0 || done > CIV_MAX_STEPS) {
        H5Fclose(f);
        return civ_fail(err, CIV_ERR_INPUT, "%s: attribute steps_completed = %lld is out of range (0 to %d)", path,
                        (long long)done, CIV_MAX_STEPS);
    }
    hsize_t dims[3];
    hid_t sp = -1;
    char shape[128];
    hid_t ds = open_counts(f, path, name, 3, dims, &sp, shape, sizeof shape, err);
    if (ds < 0) {
        H5Fclose(f);
        return err->status;
    }
    if (dims[0] < (hsize_t)done || dims[1] != CIV_NBOROUGH || dims[2] == 0 || dims[2] > CIV_MAX_AGE + 1) {
        H5Sclose(sp); H5Dclose(ds); H5Fclose(f);
        return civ_fail(err, CIV_ERR_INPUT, "%s: dataset '%s' has shape %s, expected (at least steps_completed = %lld, "
                        "%d boroughs, 1 to %d age bands)", path, name, shape, (long long)done, CIV_NBOROUGH, CIV_MAX_AGE + 1);
    }
    const hsize_t start[3] = {0, 0, 0}, count[3] = {(hsize_t)done, dims[1], dims[2]};
    const size_t cells = (size_t)done * CIV_NBOROUGH;
    int *raw = civ_xmalloc((cells * dims[2] + 1) * sizeof(int));
    herr_t rc = 0;
    if (done) {
        hid_t ms = H5Screate_simple(3, count, NULL);
        rc = H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
        if (rc >= 0) rc = H5Dread(ds, H5T_NATIVE_INT, ms, sp, H5P_DEFAULT, raw);
        H5Sclose(ms);
    }
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    if (rc < 0) { free(raw); return civ_fail(err, CIV_ERR_INPUT, "%s: cannot read '%s'", path, name); }
    int *o = civ_xcalloc(cells + 1, sizeof(int));
    for (size_t c = 0; c < cells; c++) {
        int64_t sum = 0;   /* a corrupt file must not overflow the int total */
        for (hsize_t k = 0; k < dims[2]; k++) sum += raw[c * dims[2] + k];
        if (sum < 0 || sum > CIV_MAX_DAILY_COUNT) {
            free(raw); free(o);
            return civ_fail(err, CIV_ERR_INPUT, "%s: dataset '%s' day %zu, borough %zu sums to %lld, not a count",
                            path, name, c / CIV_NBOROUGH, c % CIV_NBOROUGH, (long long)sum);
        }
        o[c] = (int)sum;
    }
    free(raw);
    *out = o;
    *steps = (int)done;
    return CIV_OK;
}

civ_status civ_read_observed(const char *path, const char *name, int steps, int **out, civ_error *err)
{
    *out = NULL;
    hid_t f = civ_h5_open_input(path, "run file", err);
    if (f < 0) return err->status;
    char ds_name[64];
    snprintf(ds_name, sizeof ds_name, "observed/%s", name);
    if (H5Lexists(f, "observed", H5P_DEFAULT) <= 0 || H5Lexists(f, ds_name, H5P_DEFAULT) <= 0) {
        H5Fclose(f);
        return civ_fail(err, CIV_ERR_INPUT, "%s: the run has no observed data (the study must name 'observed': "
                        "{\"file\": \".../nyc_covid_daily_by_borough.csv\"})", path);
    }
    hsize_t dims[2];
    hid_t fs = -1;
    char shape[128];
    hid_t ds = open_counts(f, path, ds_name, 2, dims, &fs, shape, sizeof shape, err);
    if (ds < 0) {
        H5Fclose(f);
        return err->status;
    }
    if (dims[0] < (hsize_t)steps || dims[1] != CIV_NBOROUGH) {
        H5Sclose(fs); H5Dclose(ds); H5Fclose(f);
        return civ_fail(err, CIV_ERR_INPUT, "%s: dataset '%s' has shape %s, expected (at least %d days, %d boroughs)",
                        path, ds_name, shape, steps, CIV_NBOROUGH);
    }
    herr_t rc = -1;
    {
        hsize_t start[2] = {0, 0}, count[2] = {(hsize_t)steps, CIV_NBOROUGH};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        hid_t ms = H5Screate_simple(2, count, NULL);
        *out = civ_xmalloc((size_t)steps * CIV_NBOROUGH * sizeof(int) + 16);
        rc = H5Dread(ds, H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, *out);
        H5Sclose(ms);
    }
    H5Sclose(fs);
    H5Dclose(ds);
    H5Fclose(f);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        return civ_fail(err, CIV_ERR_INPUT, "%s: cannot read %s for %d days", path, ds_name, steps);
    }
    for (int c = 0; c < steps * CIV_NBOROUGH; c++)
        if ((*out)[c] < 0 || (*out)[c] > CIV_MAX_DAILY_COUNT) {
            int v = (*out)[c];
            free(*out);
            *out = NULL;
            return civ_fail(err, CIV_ERR_INPUT, "%s: dataset '%s' day %d, borough %d is %d, not a daily count",
                            path, ds_name, c / CIV_NBOROUGH, c % CIV_NBOROUGH, v);
        }
    return CIV_OK;
}

static void info_population(const char *path, FILE *out, civ_error *err)
{
    civ_population pop;
    if (civ_population_load(path, &pop, err)) return;
    uint64_t agents[CIV_NBOROUGH] = {0}, emp[CIV_NBOROUGH] = {0}, lf[CIV_NBOROUGH] = {0}, school = 0;
    for (uint32_t i = 0; i < pop.n_agents; i++) {
        agents[pop.borough[i]]++;
        if (pop.labour[i]) lf[pop.borough[i]]++;
        if (pop.labour[i] == CIV_EMPLOYED) emp[pop.borough[i]]++;
    }
    uint32_t nschool = 0;
    for (uint32_t p = 0; p < pop.n_places; p++)
        if (pop.place_type[p] == CIV_PLACE_SCHOOL) { nschool++; school += pop.place_size[p]; }
    fprintf(out, "%s: civitas population\n", path);
    fprintf(out, "  agents %u, households %u (mean size %.2f), tracts %u\n", pop.n_agents, pop.n_households,
            (double)pop.n_agents / pop.n_households, pop.n_tracts);
    fprintf(out, "  schools %u (%llu pupils), workplaces %u\n", nschool, (unsigned long long)school, pop.n_places - nschool);
    fprintf(out, "  scale %g, seed %llu, labour reference %s\n", pop.scale, (unsigned long long)pop.seed,
            pop.employment_reference);
    fprintf(out, "  borough         agents   labour force   employed   unemployment\n");
    for (int b = 0; b < CIV_NBOROUGH; b++)
        fprintf(out, "  %-13s %9llu   %12llu %10llu   %10.1f%%\n", civ_borough_name[b], (unsigned long long)agents[b],
                (unsigned long long)lf[b], (unsigned long long)emp[b], lf[b] ? 100.0 * (double)(lf[b] - emp[b]) / (double)lf[b] : 0.0);
    civ_population_free(&pop);
}

/* A per-refresh dataset of /llm as doubles, or NULL when the file has none of n values (older files). */
static double *read_llm_column(hid_t g, const char *name, hsize_t n)
{
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0) return NULL;
    hid_t sp = H5Dget_space(ds), ft = H5Dget_type(ds);
    const int fits = civ_h5_type_fits(ft, H5T_NATIVE_DOUBLE);
    H5Tclose(ft);
    hsize_t dims[1] = {0};
    double *v = NULL;
    if (fits && H5Sget_simple_extent_type(sp) == H5S_SIMPLE && H5Sget_simple_extent_ndims(sp) == 1 &&
        H5Sget_simple_extent_dims(sp, dims, NULL) == 1 && dims[0] == n) {
        v = civ_xmalloc((size_t)n * sizeof(double) + 1);
        if (H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) { free(v); v = NULL; }
    }
    H5Sclose(sp);
    H5Dclose(ds);
    return v;
}

static void print_count(FILE *out, int width, const double *col, hsize_t r)
{
    if (!col || col[r] < 0) fprintf(out, " %*s", width, "-");
    else fprintf(out, " %*.0f", width, col[r]);
}

/* The cost of the LLM part of a run: requests, tokens and seconds per refresh, and what went wrong. */
static void info_llm(hid_t f, FILE *out)
{
    if (H5Lexists(f, "llm", H5P_DEFAULT) <= 0) return;
    hid_t g = H5Gopen2(f, "llm", H5P_DEFAULT);
    char *mode = civ_h5_read_attr_string(g, "mode"), *model = civ_h5_read_attr_string(g, "model");
    hsize_t n = 0;
    if (H5Lexists(g, "refresh_step", H5P_DEFAULT) > 0) {
        hid_t ds = H5Dopen2(g, "refresh_step", H5P_DEFAULT), sp = ds < 0 ? -1 : H5Dget_space(ds);
        if (sp >= 0 && H5Sget_simple_extent_type(sp) == H5S_SIMPLE && H5Sget_simple_extent_ndims(sp) == 1)
            H5Sget_simple_extent_dims(sp, &n, NULL);
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
    }
    if (mode && strcmp(mode, "heuristic") != 0 && n > 0) {
        static const char *const names[] = {"refresh_step", "requests", "retries", "rejected", "fallbacks", "cache_hits",
                                            "prompt_tokens", "completion_tokens", "wall_s"};
        enum { N = sizeof names / sizeof names[0] };
        static const int width[N] = {11, 9, 8, 9, 10, 11, 14, 18, 8};
        double *col[N], total[N] = {0};
        int reported[N] = {0};
        for (int k = 0; k < N; k++) col[k] = read_llm_column(g, names[k], n);
        fprintf(out, "  LLM cost (%s mode, model '%s'), per refresh (-: not recorded or not reported by the server):\n",
                mode, model ? model : "?");
        fprintf(out, "  refresh day  requests  retries  rejected  fallbacks  cache hits  prompt tokens  "
                "completion tokens  seconds\n");
        for (hsize_t r = 0; r < n; r++) {
            fprintf(out, " ");
            for (int k = 0; k < N - 1; k++) {
                print_count(out, width[k], col[k], r);
                if (col[k] && col[k][r] >= 0) { total[k] += col[k][r]; reported[k] = 1; }
            }
            if (col[N - 1]) { fprintf(out, " %*.2f\n", width[N - 1], col[N - 1][r]); total[N - 1] += col[N - 1][r]; }
            else fprintf(out, " %*s\n", width[N - 1], "-");
        }
        fprintf(out, "  %-11s", "total");
        for (int k = 1; k < N - 1; k++) {
            if (reported[k]) fprintf(out, " %*.0f", width[k], total[k]);
            else fprintf(out, " %*s", width[k], "-");
        }
        if (col[N - 1]) fprintf(out, " %*.2f\n", width[N - 1], total[N - 1]);
        else fprintf(out, " %*s\n", width[N - 1], "-");
        for (int k = 0; k < N; k++) free(col[k]);
    }
    free(mode);
    free(model);
    H5Gclose(g);
}

static void info_run(const char *path, hid_t f, FILE *out, civ_error *err)
{
    char *study = civ_h5_read_attr_string(f, "study"), *status = civ_h5_read_attr_string(f, "status");
    char *start = civ_h5_read_attr_string(f, "start_date"), *backend = civ_h5_read_attr_string(f, "backend");
    char *version = civ_h5_read_attr_string(f, "civitas_version");
    uint64_t seed = 0, agents = 0;
    civ_h5_read_attr_u64(f, "seed", &seed);
    civ_h5_read_attr_u64(f, "n_agents", &agents);
    int64_t planned = 0, done = 0;
    civ_h5_read_attr_i64(f, "steps_planned", &planned);
    civ_h5_read_attr_i64(f, "steps_completed", &done);
    fprintf(out, "%s: civitas run of study '%s' (civitas %s, %s backend)\n", path, study ? study : "?",
            version ? version : "?", backend ? backend : "?");
    fprintf(out, "  status %s: %lld of %lld days from %s, seed %llu, %llu agents\n", status ? status : "?",
            (long long)done, (long long)planned, start ? start : "?", (unsigned long long)seed, (unsigned long long)agents);
    free(study); free(status); free(start); free(backend); free(version);
    static const char *const vars[] = {"new_infections", "new_reported_cases", "new_hospitalisations", "new_deaths"};
    double scale = 1;   /* totals in real-city units, the scale stated */
    civ_h5_read_attr_f64(f, "population_scale", &scale);
    if (!(scale > 0) || scale > 1) scale = 1;
    char scale_text[200];
    civ_scale_statement(scale, scale_text, sizeof scale_text);
    fprintf(out, "  %s\n", scale_text);
    fprintf(out, "  borough            infections     reported  hospitalised       deaths\n");
    int *series[4] = {0};
    int steps = 0;
    for (int k = 0; k < 4; k++)
        if (civ_read_borough_series(path, vars[k], &series[k], &steps, err)) goto out;
    long long tot[4] = {0};
    for (int b = 0; b <= CIV_NBOROUGH; b++) {
        long long v[4] = {0};
        char cell[4][40];
        for (int k = 0; k < 4; k++) {
            if (b < CIV_NBOROUGH) for (int t = 0; t < steps; t++) v[k] += series[k][t * CIV_NBOROUGH + b];
            else v[k] = tot[k];
            tot[k] += b < CIV_NBOROUGH ? v[k] : 0;
            civ_fmt_count(civ_real((double)v[k], scale), 3, cell[k], sizeof cell[k]);
        }
        fprintf(out, "  %-13s %14s %12s %13s %12s\n", b < CIV_NBOROUGH ? civ_borough_name[b] : "NYC", cell[0], cell[1],
                cell[2], cell[3]);
    }
    info_llm(f, out);
out:
    for (int k = 0; k < 4; k++) free(series[k]);
}

civ_status civ_info(const char *path, FILE *out, civ_error *err)
{
    hid_t f;
    char *schema;
    civ_status st = open_file(path, &f, &schema, err);
    if (st) return st;
    if (strncmp(schema, "civitas-population/", 19) == 0) {
        H5Fclose(f);
        info_population(path, out, err);
    } else if (strcmp(schema, CIV_TRAJ_SCHEMA) == 0) {
        info_run(path, f, out, err);
        H5Fclose(f);
    } else if (strncmp(schema, "civitas-ensemble/", 17) == 0) {
        H5Fclose(f);
        civ_info_ensemble(path, out, err);
    } else {
        H5Fclose(f);
        civ_fail(err, CIV_ERR_INPUT, "%s: unknown schema '%s'", path, schema);
    }
    free(schema);
    return err->status;
}
