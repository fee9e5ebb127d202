#include "host/output/ensemble_file.h"

#include <cjson/cJSON.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/population/population.h"
#include "host/study/study.h"
#include "host/util/date.h"
#include "host/util/h5_util.h"

/* Largest count per run, day, borough and age band the reader accepts (a larger one: a damaged file). */
#define MAX_CELL 100000000

bool civ_is_ensemble_file(const char *path)
{
    struct stat sb;   /* only a regular file is probed (a FIFO would block); the run reader names the rest */
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return false;
    civ_h5_quiet();
    if (H5Fis_hdf5(path) <= 0) return false;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return false;
    char *schema = civ_h5_read_attr_string(f, "schema");
    H5Fclose(f);
    bool yes = schema && strncmp(schema, "civitas-ensemble/", 17) == 0;
    free(schema);
    return yes;
}

/* dims of a dataset (rank must be `rank`), 0 on success */
static int dataset_dims(hid_t loc, const char *name, int rank, hsize_t *dims)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return -1;
    hid_t sp = H5Dget_space(ds);
    int ok = H5Sget_simple_extent_ndims(sp) == rank && H5Sget_simple_extent_dims(sp, dims, NULL) == rank;
    H5Sclose(sp);
    H5Dclose(ds);
    return ok ? 0 : -1;
}

static int read_all(hid_t loc, const char *name, hid_t type, void *buf)
{
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return -1;
    herr_t rc = H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Dclose(ds);
    return rc < 0 ? -1 : 0;
}

static bool config_scenario(const char *cfg)
{
    cJSON *j = cfg ? cJSON_Parse(cfg) : NULL;
    cJSON *s = j ? cJSON_GetObjectItemCaseSensitive(j, "study") : NULL;
    bool yes = cJSON_IsTrue(s ? cJSON_GetObjectItemCaseSensitive(s, "scenario") : NULL);
    cJSON_Delete(j);
    return yes;
}

civ_status civ_ens_open(const char *path, civ_ens *e, civ_error *err)
{
    memset(e, 0, sizeof *e);
    hid_t f = civ_h5_open_input(path, "ensemble file", err);
    if (f < 0) return err->status;
    civ_status st = CIV_OK;
    char *schema = civ_h5_read_attr_string(f, "schema"), *start = civ_h5_read_attr_string(f, "start_date");
    int64_t steps = 0, seeds = 0;
    hsize_t n_runs = 0, dims4[4] = {0};
    char **names = NULL;
    hid_t g = -1, vs = -1;
    if (!schema || strcmp(schema, CIV_ENSEMBLE_SCHEMA) != 0) {
        st = schema && !strncmp(schema, "civitas-ensemble/", 17)
                 ? civ_fail(err, CIV_ERR_INPUT, "%s: ensemble file of schema '%s', this civitas reads '%s': run the "
                            "ensemble again", path, schema, CIV_ENSEMBLE_SCHEMA)
                 : civ_fail(err, CIV_ERR_INPUT, "%s: not a civitas ensemble file (schema '%s')", path, schema ? schema : "none");
        goto out;
    }
    if (!start || !civ_date_parse(start, &e->start_day) || civ_h5_read_attr_i64(f, "steps", &steps) ||
        civ_h5_read_attr_i64(f, "seeds_per_study", &seeds) || steps < 1 || steps > CIV_MAX_STEPS || seeds < 1 ||
        seeds > 1000000) {
        st = civ_fail(err, CIV_ERR_INPUT, "%s: attributes start_date, steps or seeds_per_study are missing or out of range", path);
        goto out;
    }
    g = H5Gopen2(f, "runs", H5P_DEFAULT);
    if (g < 0 || dataset_dims(g, "study", 1, &n_runs) || dataset_dims(g, "seed", 1, &n_runs) ||
        dataset_dims(g, "new_infections", 4, dims4) || dims4[0] != n_runs || dims4[1] != (hsize_t)steps ||
        dims4[2] != CIV_NBOROUGH || n_runs % (hsize_t)seeds != 0 || n_runs == 0) {
        st = civ_fail(err, CIV_ERR_INPUT, "%s: /runs is missing or its datasets (study, seed, new_infections) do not "
                      "match steps = %lld and seeds_per_study = %lld", path, (long long)steps, (long long)seeds);
        goto out;
    }
    e->path = strdup(path);
    e->steps = (int)steps;
    e->seeds = (int)seeds;
    e->n_runs = (int)n_runs;
    e->n_studies = (int)(n_runs / (hsize_t)seeds);
    names = civ_xcalloc(n_runs, sizeof(char *));
    e->seed = civ_xcalloc(n_runs, sizeof(int64_t));
    vs = civ_h5_vlen_str();
    if (read_all(g, "study", vs, names) || read_all(g, "seed", H5T_NATIVE_INT64, e->seed)) {
        st = civ_fail(err, CIV_ERR_INPUT, "%s: cannot read /runs/study or /runs/seed", path);
        goto out;
    }
    e->study = civ_xcalloc((size_t)e->n_studies, sizeof(char *));
    e->scale = civ_xcalloc((size_t)e->n_studies, sizeof(double));
    e->scenario = civ_xcalloc((size_t)e->n_studies, sizeof(bool));
    e->config = civ_xcalloc((size_t)e->n_studies, sizeof(char *));
    for (int r = 0; r < e->n_runs; r++) {
        const int i = r / e->seeds;
        if (!names[r] || (r % e->seeds && strcmp(names[r], names[r - 1]))) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: /runs/study[%d] = '%s' breaks the layout (each study's %d runs in a row)",
                          path, r, names[r] ? names[r] : "", e->seeds);
            goto out;
        }
        if (r % e->seeds == 0) e->study[i] = strdup(names[r]);
    }
    for (int i = 0; i < e->n_studies; i++) {
        char grp[512];
        snprintf(grp, sizeof grp, "summary/%s", e->study[i]);
        hid_t sg = H5Lexists(f, "summary", H5P_DEFAULT) > 0 && H5Lexists(f, grp, H5P_DEFAULT) > 0
                       ? H5Gopen2(f, grp, H5P_DEFAULT) : -1;
        if (sg < 0 || civ_h5_read_attr_f64(sg, "population_scale", &e->scale[i]) || !(e->scale[i] > 0) ||
            e->scale[i] > 1) {
            if (sg >= 0) H5Gclose(sg);
            st = civ_fail(err, CIV_ERR_INPUT, "%s: /%s has no population_scale in (0, 1]", path, grp);
            goto out;
        }
        e->config[i] = civ_h5_read_attr_string(sg, "config_json");
        e->scenario[i] = config_scenario(e->config[i]);
        H5Gclose(sg);
    }
    if (H5Lexists(g, "posterior_set", H5P_DEFAULT) > 0) {
        hsize_t n = 0;
        e->posterior_set = civ_xcalloc(n_runs, sizeof(int32_t));
        if (dataset_dims(g, "posterior_set", 1, &n) || n != n_runs || read_all(g, "posterior_set", H5T_NATIVE_INT32, e->posterior_set)) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: /runs/posterior_set does not have one entry per run", path);
            goto out;
        }
    }
    if (H5Lexists(f, "observed", H5P_DEFAULT) > 0) {
        static const char *const obs[3] = {"observed/cases", "observed/hospitalized", "observed/deaths"};
        for (int k = 0; k < 3 && !st; k++) {
            hsize_t d[2] = {0, 0};
            e->observed[k] = civ_xmalloc((size_t)steps * CIV_NBOROUGH * sizeof(int32_t));
            if (dataset_dims(f, obs[k], 2, d) || d[0] != (hsize_t)steps || d[1] != CIV_NBOROUGH ||
                read_all(f, obs[k], H5T_NATIVE_INT32, e->observed[k]))
                st = civ_fail(err, CIV_ERR_INPUT, "%s: /%s is not [%lld days][%d boroughs]", path, obs[k], (long long)steps,
                              CIV_NBOROUGH);
            for (size_t c = 0; !st && c < (size_t)steps * CIV_NBOROUGH; c++)
                if (e->observed[k][c] < 0 || e->observed[k][c] > MAX_CELL)
                    st = civ_fail(err, CIV_ERR_INPUT, "%s: /%s day %zu, borough %zu is %d, not a daily count", path, obs[k],
                                  c / CIV_NBOROUGH, c % CIV_NBOROUGH, e->observed[k][c]);
        }
    }
out:
    if (names) {
        for (hsize_t r = 0; r < n_runs; r++) free(names[r]);
        free(names);
    }
    if (vs >= 0) H5Tclose(vs);
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    free(schema);
    free(start);
    if (st) civ_ens_free(e);
    return st;
}

void civ_ens_free(civ_ens *e)
{
    for (int i = 0; i < e->n_studies; i++) {
        if (e->study) free(e->study[i]);
        if (e->config) free(e->config[i]);
    }
    free(e->study); free(e->config); free(e->scale); free(e->scenario); free(e->seed); free(e->posterior_set);
    for (int k = 0; k < 3; k++) free(e->observed[k]);
    free(e->path);
    memset(e, 0, sizeof *e);
}

/* /runs/<var> as checked counts [run][day][borough][band] (malloc'd), its band count in *nb */
static civ_status read_counts(const civ_ens *e, const char *var, int32_t **out, size_t *nb, civ_error *err)
{
    *out = NULL;
    civ_h5_quiet();
    hid_t f = H5Fopen(e->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return civ_fail(err, CIV_ERR_INPUT, "%s: cannot open HDF5 file", e->path);
    char name[128];
    snprintf(name, sizeof name, "runs/%s", var);
    hsize_t d[4] = {0};
    if (dataset_dims(f, name, 4, d) || d[0] != (hsize_t)e->n_runs || d[1] != (hsize_t)e->steps || d[2] != CIV_NBOROUGH ||
        d[3] < 1 || d[3] > CIV_MAX_AGE + 1) {
        H5Fclose(f);
        return civ_fail(err, CIV_ERR_INPUT, "%s: /%s is missing or not [%d runs][%d days][%d boroughs][age bands]", e->path,
                        name, e->n_runs, e->steps, CIV_NBOROUGH);
    }
    *nb = d[3];
    const size_t cells = (size_t)e->n_runs * e->steps * CIV_NBOROUGH;
    int32_t *raw = civ_xmalloc(cells * *nb * sizeof(int32_t));
    int rc = read_all(f, name, H5T_NATIVE_INT32, raw);
    H5Fclose(f);
    if (rc) { free(raw); return civ_fail(err, CIV_ERR_INPUT, "%s: cannot read /%s", e->path, name); }
    for (size_t c = 0; c < cells * *nb; c++)
        if (raw[c] < 0 || raw[c] > MAX_CELL) {
            const size_t cell = c / *nb, run = cell / ((size_t)e->steps * CIV_NBOROUGH);
            civ_status st = civ_fail(err, CIV_ERR_INPUT, "%s: /%s run %zu, day %zu, borough %zu holds %d, not a count",
                                     e->path, name, run, cell / CIV_NBOROUGH % e->steps, cell % CIV_NBOROUGH, raw[c]);
            free(raw);
            return st;
        }
    *out = raw;
    return CIV_OK;
}

civ_status civ_ens_series(const civ_ens *e, const char *var, double **out, civ_error *err)
{
    *out = NULL;
    int32_t *raw = NULL;
    size_t nb = 0;
    civ_status st = read_counts(e, var, &raw, &nb, err);
    if (st) return st;
    const size_t cells = (size_t)e->n_runs * e->steps * CIV_NBOROUGH;
    double *o = civ_xcalloc((size_t)e->n_runs * e->steps * CIV_N_AREAS, sizeof(double));
    for (size_t c = 0; c < cells; c++) {
        const size_t run = c / ((size_t)e->steps * CIV_NBOROUGH), t = c / CIV_NBOROUGH % e->steps, b = c % CIV_NBOROUGH;
        double sum = 0;
        for (size_t k = 0; k < nb; k++) sum += raw[c * nb + k];
        const double real = sum / e->scale[run / e->seeds];
        double *row = o + (run * e->steps + t) * CIV_N_AREAS;
        row[1 + b] = real;
        row[0] += real;
    }
    free(raw);
    *out = o;
    return CIV_OK;
}

civ_status civ_ens_series_bands(const civ_ens *e, const char *var, double **out, int *n_bands, civ_error *err)
{
    *out = NULL;
    int32_t *raw = NULL;
    size_t nb = 0;
    civ_status st = read_counts(e, var, &raw, &nb, err);
    if (st) return st;
    const size_t n = (size_t)e->n_runs * e->steps * CIV_NBOROUGH * nb;
    double *o = civ_xmalloc(n * sizeof(double));
    for (size_t c = 0; c < n; c++) o[c] = raw[c];
    free(raw);
    *out = o;
    *n_bands = (int)nb;
    return CIV_OK;
}

civ_status civ_ens_bands(const civ_ens *e, int *edges, int *n_bands, civ_error *err)
{
    civ_h5_quiet();
    hid_t f = H5Fopen(e->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return civ_fail(err, CIV_ERR_INPUT, "%s: cannot open HDF5 file", e->path);
    hsize_t d[1] = {0};
    civ_status st = CIV_OK;
    if (dataset_dims(f, "runs/age_band", 1, d) || d[0] < 1 || d[0] > CIV_MAX_BANDS) {
        H5Fclose(f);
        return civ_fail(err, CIV_ERR_INPUT, "%s: /runs/age_band is missing or not 1 to %d labels", e->path, CIV_MAX_BANDS);
    }
    char *labels[CIV_MAX_BANDS] = {0};
    hid_t ds = H5Dopen2(f, "runs/age_band", H5P_DEFAULT), vs = civ_h5_vlen_str();
    if (ds < 0 || H5Dread(ds, vs, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels) < 0)
        st = civ_fail(err, CIV_ERR_INPUT, "%s: /runs/age_band cannot be read as strings", e->path);
    for (hsize_t k = 0; k < d[0] && !st; k++) {
        char *end = NULL;
        long lo = labels[k] ? strtol(labels[k], &end, 10) : -1;
        if (!labels[k] || end == labels[k] || lo < 0 || lo > CIV_MAX_AGE || (k && lo <= edges[k - 1]))
            st = civ_fail(err, CIV_ERR_INPUT, "%s: /runs/age_band[%d] = '%s' is not an age band ('A-B' or 'A+', rising)",
                          e->path, (int)k, labels[k] ? labels[k] : "");
        else edges[k] = (int)lo;
    }
    for (hsize_t k = 0; k < d[0]; k++) free(labels[k]);
    H5Tclose(vs);
    if (ds >= 0) H5Dclose(ds);
    H5Fclose(f);
    *n_bands = st ? 0 : (int)d[0];
    return st;
}

civ_status civ_date_option(const char *name, const char *option, int start_day, int steps, int dflt, int *day,
                           civ_error *err)
{
    if (!option) { *day = dflt; return CIV_OK; }
    int d;
    if (!civ_date_parse(option, &d)) return civ_fail(err, CIV_ERR_USAGE, "--%s '%s': expected YYYY-MM-DD", name, option);
    if (d < start_day || d >= start_day + steps) {
        char a[11], b[11];
        civ_date_format(start_day, a);
        civ_date_format(start_day + steps - 1, b);
        return civ_fail(err, CIV_ERR_INPUT, "--%s %s is outside the simulated dates (%s to %s)", name, option, a, b);
    }
    *day = d - start_day;
    return CIV_OK;
}

civ_status civ_holdout_day(const char *option, const char *base_config_json, int start_day, int steps, int *day,
                           const char **source, civ_error *err)
{
    *day = -1;
    const char *unused;
    if (!source) source = &unused;
    *source = "--holdout-from";
    if (option) return civ_date_option("holdout-from", option, start_day, steps, -1, day, err);
    cJSON *j = base_config_json ? cJSON_Parse(base_config_json) : NULL;
    cJSON *s = j ? cJSON_GetObjectItemCaseSensitive(j, "study") : NULL;
    cJSON *cal = s ? cJSON_GetObjectItemCaseSensitive(s, "calibration") : NULL;
    cJSON *h = cal ? cJSON_GetObjectItemCaseSensitive(cal, "held_out_from") : NULL;
    int d;
    *source = "the study's calibration.held_out_from";
    if (!(cJSON_IsString(h) && civ_date_parse(h->valuestring, &d))) {
        *source = "the held-out start of the New York calibration";
        if (!civ_date_parse("2020-06-01", &d)) d = -1;
    }
    cJSON_Delete(j);
    if (d > start_day && d < start_day + steps) *day = d - start_day;
    return CIV_OK;
}
