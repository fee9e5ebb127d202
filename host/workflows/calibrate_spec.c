#include "host/workflows/calibrate_spec.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/population/population.h"
#include "host/study/study_files.h"
#include "host/util/csv.h"
#include "host/util/date.h"
#include "host/util/json_path.h"
#include "host/util/json_util.h"

/* fields a particle cannot change: the population is built once for every particle, and the rest
   names files, dates or the calibration itself */
static const char *const fixed_heads[] = {"name", "description", "model", "population", "start_date", "steps", "seed",
                                          "output", "observed", "calibration", "posterior", "base", "note", "sources", NULL};

static civ_status read_prior(civ_jctx *c, const cJSON *o, const char *path, civ_prior *p)
{
    const char *d = NULL;
    if (civ_json_string(c, o, path, "distribution", true, &d)) return c->err->status;
    static const char *const k_ln[] = {"distribution", "median", "sd_log", "note", NULL};
    static const char *const k_range[] = {"distribution", "min", "max", "note", NULL};
    static const char *const k_beta[] = {"distribution", "a", "b", "note", NULL};
    static const char *const k_norm[] = {"distribution", "mean", "sd", "note", NULL};
    const double big = 1e12;
    if (strcmp(d, "lognormal") == 0) {
        p->kind = CIV_PRIOR_LOGNORMAL;
        if (civ_json_check_keys(c, o, path, k_ln) || civ_json_number(c, o, path, "median", 1e-12, big, true, &p->a) ||
            civ_json_number(c, o, path, "sd_log", 1e-6, 20, true, &p->b))
            return c->err->status;
    } else if (strcmp(d, "uniform") == 0 || strcmp(d, "log_uniform") == 0) {
        p->kind = d[0] == 'u' ? CIV_PRIOR_UNIFORM : CIV_PRIOR_LOG_UNIFORM;
        const double lo = p->kind == CIV_PRIOR_UNIFORM ? -big : 1e-12;
        if (civ_json_check_keys(c, o, path, k_range) || civ_json_number(c, o, path, "min", lo, big, true, &p->a) ||
            civ_json_number(c, o, path, "max", lo, big, true, &p->b))
            return c->err->status;
        if (!(p->a < p->b))
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s': min (%g) must be below max (%g)", c->file, path, p->a, p->b);
    } else if (strcmp(d, "beta") == 0) {
        p->kind = CIV_PRIOR_BETA;
        if (civ_json_check_keys(c, o, path, k_beta) || civ_json_number(c, o, path, "a", 1e-3, 1e6, true, &p->a) ||
            civ_json_number(c, o, path, "b", 1e-3, 1e6, true, &p->b))
            return c->err->status;
    } else if (strcmp(d, "normal") == 0) {
        p->kind = CIV_PRIOR_NORMAL;
        if (civ_json_check_keys(c, o, path, k_norm) || civ_json_number(c, o, path, "mean", -big, big, true, &p->a) ||
            civ_json_number(c, o, path, "sd", 1e-12, big, true, &p->b))
            return c->err->status;
    } else {
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.distribution' = \"%s\" must be one of lognormal {median, sd_log}, "
                        "uniform {min, max}, log_uniform {min, max}, beta {a, b}, normal {mean, sd}", c->file, path, d);
    }
    return CIV_OK;
}

static civ_status read_parameters(civ_jctx *c, const civ_study *s, const cJSON *arr, civ_cal_spec *sp)
{
    const char *P = "calibration.parameters";
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 || cJSON_GetArraySize(arr) > CIV_CAL_MAX_PARAMS)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an array of 1 to %d free parameters "
                        "({\"path\", \"prior\", \"source\"}), got %s", c->file, P, CIV_CAL_MAX_PARAMS, civ_json_repr(arr));
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char path[96], ppath[112];
        snprintf(path, sizeof path, "%s[%d]", P, i);
        snprintf(ppath, sizeof ppath, "%s.prior", path);
        if (!cJSON_IsObject(e))
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an object, got %s", c->file, path, civ_json_repr(e));
        static const char *const keys[] = {"path", "prior", "source", "note", NULL};
        civ_cal_param *q = &sp->params[i];
        const char *jp = NULL;
        const cJSON *prior = NULL;
        if (civ_json_check_keys(c, e, path, keys) || civ_json_string(c, e, path, "path", true, &jp) ||
            civ_json_object(c, e, path, "prior", true, &prior) || read_prior(c, prior, ppath, &q->prior) ||
            civ_json_string(c, e, path, "source", true, &q->source))
            return c->err->status;
        char why[160], head[64];
        if (!civ_json_path_valid(jp, why, sizeof why) || strpbrk(jp, ",\"") || strlen(jp) >= CIV_CAL_MAX_PATH)
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.path' = \"%s\" is not a path into the study such as "
                            "\"parameters.beta\" or \"interventions[3].factor\" (%s)", c->file, path, jp,
                            strpbrk(jp, ",\"") ? "no commas or quotes" : strlen(jp) >= CIV_CAL_MAX_PATH ? "too long" : why);
        civ_json_path_head(jp, head, sizeof head);
        for (const char *const *f = fixed_heads; *f; f++)
            if (strcmp(head, *f) == 0)
                return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.path' = \"%s\": '%s' cannot be calibrated (%s)", c->file,
                                path, jp, head, strcmp(head, "population") == 0 ? "the population is built once for every particle"
                                : "only model, contact, behaviour, testing, transmission, employment and intervention values can");
        const cJSON *now = civ_json_path_get(s->resolved, jp);
        if (now && !cJSON_IsNumber(now) && !cJSON_IsNull(now))
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.path' = \"%s\" names %s in the study, not a number", c->file,
                            path, jp, civ_json_repr(now));
        for (int k = 0; k < i; k++)
            if (strcmp(sp->params[k].path, jp) == 0)
                return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.path' = \"%s\" is already calibrated by %s[%d]", c->file,
                                path, jp, P, k);
        snprintf(q->path, sizeof q->path, "%s", jp);
    }
    sp->n_params = i;
    return CIV_OK;
}

/* a date field as a simulation day inside [lo, hi] (simulation days), named in the error with the dates */
static civ_status read_day(civ_jctx *c, const civ_study *s, const cJSON *o, const char *path, const char *key, bool required,
                           int lo, int hi, const char *why, int *out)
{
    int d;
    if (!cJSON_GetObjectItemCaseSensitive(o, key) && !required) return CIV_OK;
    if (civ_json_date(c, o, path, key, required, &d)) return c->err->status;
    if (d - s->start_day < lo || d - s->start_day > hi) {
        char a[11], b[11], v[11];
        civ_date_format(s->start_day + lo, a);
        civ_date_format(s->start_day + hi, b);
        civ_date_format(d, v);
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.%s' = \"%s\" must lie between %s and %s (%s)", c->file, path, key, v,
                        a, b, why);
    }
    *out = d - s->start_day;
    return CIV_OK;
}

static civ_status read_targets(civ_jctx *c, const civ_study *s, const cJSON *arr, civ_cal_spec *sp)
{
    const char *P = "calibration.targets";
    civ_fit_data *f = &sp->fit;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 || cJSON_GetArraySize(arr) > CIV_FIT_MAX_TARGETS)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an array of 1 to %d observed series "
                        "({\"series\", \"dispersion\", ...}), got %s", c->file, P, CIV_FIT_MAX_TARGETS, civ_json_repr(arr));
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char path[64];
        snprintf(path, sizeof path, "%s[%d]", P, i);
        if (!cJSON_IsObject(e))
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an object, got %s", c->file, path, civ_json_repr(e));
        static const char *const keys[] = {"series", "by_borough", "aggregation", "dispersion", "from", "source", "note", NULL};
        civ_count_target *t = &f->targets[i];
        const char *series = NULL, *agg = "weekly";
        bool by_borough = true;
        if (civ_json_check_keys(c, e, path, keys) || civ_json_string(c, e, path, "series", true, &series) ||
            civ_json_bool(c, e, path, "by_borough", false, &by_borough) ||
            civ_json_string(c, e, path, "aggregation", false, &agg) ||
            civ_json_number(c, e, path, "dispersion", 1e-3, 1e9, true, &t->dispersion))
            return c->err->status;
        int k = 0;
        while (k < CIV_FIT_N_SERIES && strcmp(series, civ_fit_series_name[k])) k++;
        if (k == CIV_FIT_N_SERIES)
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.series' = \"%s\" must be cases (reported, by diagnosis date), "
                            "hospital_admissions or deaths", c->file, path, series);
        for (int j = 0; j < i; j++)
            if ((int)f->targets[j].series == k)
                return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.series' = \"%s\" is already a target (%s[%d])", c->file, path,
                                series, P, j);
        t->series = (civ_fit_series)k;
        t->by_borough = by_borough;
        if (strcmp(agg, "weekly") == 0) t->bin_days = 7;
        else if (strcmp(agg, "daily") == 0) t->bin_days = 1;
        else
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.aggregation' = \"%s\" must be weekly (sums over 7 days, "
                            "recommended: no weekday effects) or daily", c->file, path, agg);
        t->first_day = 0;
        if (read_day(c, s, e, path, "from", false, 0, f->fit_day - t->bin_days + 1, "a whole bin before the last fitted day",
                     &t->first_day))
            return c->err->status;
    }
    f->n_targets = i;
    return CIV_OK;
}

static civ_status read_sero(civ_jctx *c, const civ_study *s, const cJSON *val, civ_cal_spec *sp)
{
    const char *P = "calibration.serosurvey";
    civ_fit_data *f = &sp->fit;
    if (!val) return CIV_OK;
    if (!(cJSON_IsArray(val) || cJSON_IsObject(val)) || (cJSON_IsArray(val) && cJSON_GetArraySize(val) > CIV_FIT_MAX_SERO))
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be a survey {\"date\", \"share\", \"ci95\", ...} or an "
                        "array of up to %d, got %s", c->file, P, CIV_FIT_MAX_SERO, civ_json_repr(val));
    int last = s->steps - 1;
    if (sp->held_out_from != INT_MAX && sp->held_out_from - s->start_day - 1 < last) last = sp->held_out_from - s->start_day - 1;
    int i = 0;
    const cJSON *first = cJSON_IsArray(val) ? val->child : val;
    for (const cJSON *e = first; e; e = cJSON_IsArray(val) ? e->next : NULL, i++) {
        char path[64];
        if (cJSON_IsArray(val)) snprintf(path, sizeof path, "%s[%d]", P, i);
        else snprintf(path, sizeof path, "%s", P);
        if (!cJSON_IsObject(e))
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an object, got %s", c->file, path, civ_json_repr(e));
        static const char *const keys[] = {"date", "share", "ci95", "min_age", "borough", "source", "note", NULL};
        civ_sero_target *t = &f->sero[i];
        double ci[2];
        long min_age = 18;
        const char *boro = NULL;
        if (civ_json_check_keys(c, e, path, keys) ||
            read_day(c, s, e, path, "date", true, 0, last, "inside the study and before the held-out window", &t->day) ||
            civ_json_number(c, e, path, "share", 1e-6, 1 - 1e-6, true, &t->share) ||
            civ_json_numbers(c, e, path, "ci95", 1e-6, 1 - 1e-6, 2, 2, true, ci, NULL) ||
            civ_json_int(c, e, path, "min_age", 0, 120, false, &min_age) || civ_json_string(c, e, path, "borough", false, &boro))
            return c->err->status;
        if (!(ci[0] < t->share && t->share < ci[1]))
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.ci95' = [%g, %g] must surround the share %g", c->file, path,
                            ci[0], ci[1], t->share);
        t->ci_low = ci[0];
        t->ci_high = ci[1];
        t->min_age = (int)min_age;
        t->borough = -1;
        if (boro && (t->borough = civ_borough_index(boro)) < 0)
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.borough' = \"%s\" must be BX, BK, MN, QN or SI (or absent: the "
                            "whole city)", c->file, path, boro);
        int edge = 0;
        for (int b = 0; b < s->n_out_bands; b++) edge |= s->out_band_edges[b] == t->min_age;
        if (!edge) {
            char list[128] = "";
            for (int b = 0; b < s->n_out_bands; b++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", b ? ", " : "", s->out_band_edges[b]);
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.min_age' = %d must be a lower edge of the study's output age "
                            "bands (output.age_bands: %s)", c->file, path, t->min_age, list);
        }
    }
    f->n_sero = i;
    return CIV_OK;
}

/* calibration.deaths_by_age: the study's output bands named in 'bands', their weekly death rates per 100k
 * from 'file' (columns week_ending, age_group with "_" for "-", death_rate_per_100k), every week that lies
 * wholly inside the fitted window. */
static civ_status read_deaths_by_age(civ_jctx *c, const civ_study *s, const cJSON *o, civ_cal_spec *sp)
{
    const char *P = "calibration.deaths_by_age", *file = NULL;
    civ_age_target *t = &sp->fit.age;
    if (!o) return CIV_OK;
    if (!cJSON_IsObject(o))
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an object {\"file\", \"bands\", \"dispersion\"}, got %s",
                        c->file, P, civ_json_repr(o));
    static const char *const keys[] = {"file", "bands", "dispersion", "source", "note", NULL};
    if (civ_json_check_keys(c, o, P, keys) || civ_json_string(c, o, P, "file", true, &file) ||
        civ_json_number(c, o, P, "dispersion", 1e-3, 1e9, true, &t->dispersion) ||
        civ_study_need_input(c, "calibration.deaths_by_age.file", file, false))
        return c->err->status;
    const cJSON *bands = cJSON_GetObjectItemCaseSensitive(o, "bands");
    if (!cJSON_IsArray(bands) || cJSON_GetArraySize(bands) < 1 || cJSON_GetArraySize(bands) > CIV_FIT_MAX_BANDS)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.bands' must be an array of 1 to %d of the study's output age "
                        "bands, such as \"75+\", got %s", c->file, P, CIV_FIT_MAX_BANDS, civ_json_repr(bands));
    char labels[CIV_FIT_MAX_BANDS][16];
    for (const cJSON *e = bands->child; e; e = e->next) {
        int b = 0;
        char want[16] = "";
        for (; cJSON_IsString(e) && b < s->n_out_bands; b++) {
            civ_age_band_label(s->out_band_edges, s->n_out_bands, b, want, sizeof want);
            if (strcmp(want, e->valuestring) == 0) break;
        }
        if (!cJSON_IsString(e) || b == s->n_out_bands) {
            char list[160] = "";
            for (int k = 0; k < s->n_out_bands; k++) {
                civ_age_band_label(s->out_band_edges, s->n_out_bands, k, want, sizeof want);
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", want);
            }
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.bands' has %s, which is not one of the study's output age "
                            "bands (output.age_bands: %s)", c->file, P, civ_json_repr(e), list);
        }
        for (int j = 0; j < t->n_bands; j++)
            if (t->band[j] == b)
                return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.bands' names \"%s\" twice", c->file, P, e->valuestring);
        snprintf(labels[t->n_bands], sizeof labels[0], "%s", want);
        for (char *q = labels[t->n_bands]; *q; q++)
            if (*q == '-') *q = '_';
        t->band[t->n_bands++] = b;
    }
    civ_csv csv;
    civ_status st = civ_csv_read(file, &csv, c->err);
    if (st) return st;
    /* the rows of weeks wholly inside days 0 .. fit_day, by the day each week ends */
    const int days = sp->fit.fit_day + 1;
    double (*rate)[CIV_FIT_MAX_BANDS] = civ_xcalloc((size_t)days, sizeof *rate);
    uint8_t (*seen)[CIV_FIT_MAX_BANDS] = civ_xcalloc((size_t)days, sizeof *seen);
    int cw, ca, cr;
    if ((st = civ_csv_col(&csv, "week_ending", &cw, c->err)) || (st = civ_csv_col(&csv, "age_group", &ca, c->err)) ||
        (st = civ_csv_col(&csv, "death_rate_per_100k", &cr, c->err)))
        goto out;
    int first = days;
    for (int r = 0; r < csv.nrows; r++) {
        int day;
        if (!civ_date_parse(csv.cells[r][cw], &day)) {
            st = civ_fail(c->err, CIV_ERR_INPUT, "%s: line %d: week_ending '%s' is not a date YYYY-MM-DD", file, r + 2,
                          csv.cells[r][cw]);
            goto out;
        }
        const int end = day - s->start_day;
        if (end - 6 < 0 || end >= days) continue;
        int j = 0;
        while (j < t->n_bands && strcmp(csv.cells[r][ca], labels[j])) j++;
        if (j == t->n_bands) continue;
        /* DOHMH leaves a rate empty when it stands for 1 to 4 deaths (suppressed) */
        if ((st = civ_csv_number(&csv, r, cr, CIV_AGE_RATE_SUPPRESSED, &rate[end][j], c->err))) goto out;
        if (rate[end][j] < 0 && rate[end][j] != CIV_AGE_RATE_SUPPRESSED) {
            st = civ_fail(c->err, CIV_ERR_INPUT, "%s: line %d: death_rate_per_100k = %s must be >= 0", file, r + 2,
                          csv.cells[r][cr]);
            goto out;
        }
        seen[end][j] = 1;
        if (end < first) first = end;
    }
    if (first == days) {
        st = civ_fail(c->err, CIV_ERR_INPUT, "%s: no whole week (week_ending 7 to %d days after the study's start) inside the "
                      "fitted window for %s", file, days, P);
        goto out;
    }
    /* every week from the first whole one to the last inside the window, each band, in date order */
    while (first - 7 >= 6) first -= 7;
    for (int end = 0; end < days; end++)
        for (int j = 0; j < t->n_bands; j++)
            if (seen[end][j] && (end - first) % 7) {
                char d[11], f1[11];
                civ_date_format(s->start_day + end, d);
                civ_date_format(s->start_day + first, f1);
                st = civ_fail(c->err, CIV_ERR_INPUT, "%s: week_ending %s is not a whole number of weeks after %s: the file's "
                              "weeks must end on the same weekday (%s)", file, d, f1, P);
                goto out;
            }
    t->n_weeks = 0;
    for (int end = first; end < days; end += 7) {
        for (int j = 0; j < t->n_bands; j++)
            if (!seen[end][j]) {
                char d[11];
                civ_date_format(s->start_day + end, d);
                st = civ_fail(c->err, CIV_ERR_INPUT, "%s: no row for age group %s in the week ending %s (%s)", file, labels[j], d, P);
                goto out;
            }
        if (t->n_weeks == CIV_FIT_MAX_WEEKS) {
            st = civ_fail(c->err, CIV_ERR_INPUT, "%s: more than %d weeks inside the fitted window", file, CIV_FIT_MAX_WEEKS);
            goto out;
        }
        t->week_end[t->n_weeks] = end;
        memcpy(t->rate[t->n_weeks++], rate[end], sizeof rate[end]);
    }
out:
    free(rate);
    free(seen);
    civ_csv_free(&csv);
    if (st) t->n_bands = 0;
    return st;
}

static civ_status read_method(civ_jctx *c, const cJSON *cal, const civ_calibrate_options *o, civ_cal_spec *sp)
{
    const char *P = "calibration.method";
    const cJSON *m = NULL;
    long particles = 100, gens = 10, sims = -1, seed = 1;
    sp->quantile = 0.5;
    sp->min_acceptance = 0.1;
    sp->min_tolerance_decrease = 1.0;
    sp->scale = -1;
    sp->kernel = CIV_ABC_KERNEL_GLOBAL;
    const char *kernel = NULL;
    static const char *const keys[] = {"particles", "max_generations", "max_simulations", "quantile", "min_acceptance",
                                       "min_tolerance_decrease", "kernel", "seed", "scale", "note", NULL};
    if (civ_json_object(c, cal, "calibration", "method", false, &m)) return c->err->status;
    if (m && (civ_json_check_keys(c, m, P, keys) || civ_json_int(c, m, P, "particles", 10, 100000, false, &particles) ||
              civ_json_int(c, m, P, "max_generations", 1, 100, false, &gens) ||
              civ_json_int(c, m, P, "max_simulations", 10, 100000000, false, &sims) ||
              civ_json_number(c, m, P, "quantile", 0.05, 0.95, false, &sp->quantile) ||
              civ_json_number(c, m, P, "min_acceptance", 1e-4, 1, false, &sp->min_acceptance) ||
              civ_json_number(c, m, P, "min_tolerance_decrease", 0, 1e12, false, &sp->min_tolerance_decrease) ||
              civ_json_int(c, m, P, "seed", 0, CIV_MAX_SEED, false, &seed) ||
              civ_json_number(c, m, P, "scale", CIV_MIN_SCALE, 1, false, &sp->scale) ||
              civ_json_string(c, m, P, "kernel", false, &kernel)))
        return c->err->status;
    if (kernel && strcmp(kernel, "local") && strcmp(kernel, "global"))
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s.kernel' = \"%s\" must be \"local\" (each particle's covariance "
                        "from the particles already within the new tolerance) or \"global\" (twice the weighted covariance)",
                        c->file, P, kernel);
    if (kernel && !strcmp(kernel, "local")) sp->kernel = CIV_ABC_KERNEL_LOCAL;
    if (o->particles >= 0) particles = (long)o->particles;
    if (o->generations >= 0) gens = (long)o->generations;
    if (o->max_simulations >= 0) sims = (long)o->max_simulations;
    if (o->seed >= 0) seed = (long)o->seed;
    if (o->scale >= 0) sp->scale = o->scale;
    sp->particles = (int)particles;
    sp->max_generations = (int)gens;
    sp->max_simulations = sims >= 0 ? (int)sims : (int)(50 * particles);
    if (sp->max_simulations < sp->particles)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: max_simulations (%d) must be at least the particles (%d)", c->file,
                        sp->max_simulations, sp->particles);
    sp->seed = (uint64_t)seed;
    return CIV_OK;
}

civ_status civ_cal_spec_read(const civ_study *s, const civ_calibrate_options *o, civ_cal_spec *sp, civ_error *err)
{
    memset(sp, 0, sizeof *sp);
    civ_jctx c = {s->study_file, err};
    const cJSON *cal = NULL;
    if (civ_json_object(&c, s->resolved, "", "calibration", false, &cal)) return err->status;
    if (!cal)
        return civ_fail(err, CIV_ERR_INPUT, "%s: no 'calibration' section: name the free parameters with their priors and the "
                        "observed targets (see the README's study files)", s->study_file);
    static const char *const keys[] = {"parameters", "targets", "serosurvey", "deaths_by_age", "fit_until", "held_out_from",
                                       "method", "note", "source", NULL};
    if (civ_json_check_keys(&c, cal, "calibration", keys)) return err->status;
    const int last = s->steps - 1, min_fit = 13;
    sp->held_out_from = INT_MAX;
    int hd = INT_MAX;
    if (cJSON_GetObjectItemCaseSensitive(cal, "held_out_from")) {
        if (civ_json_date(&c, cal, "calibration", "held_out_from", true, &sp->held_out_from)) return err->status;
        hd = sp->held_out_from - s->start_day;
        if (hd <= min_fit) {
            char a[11], v[11];
            civ_date_format(s->start_day + min_fit + 1, a);
            civ_date_format(sp->held_out_from, v);
            return civ_fail(err, CIV_ERR_INPUT, "%s: field 'calibration.held_out_from' = \"%s\" must be %s or later (two "
                            "weeks fitted at least)", s->study_file, v, a);
        }
    }
    const int fit_max = (hd != INT_MAX && hd - 1 < last) ? hd - 1 : last;
    int fd = -1;
    if (o->fit_until) {
        int d;
        if (!civ_date_parse(o->fit_until, &d))
            return civ_fail(err, CIV_ERR_USAGE, "--fit-until '%s': expected YYYY-MM-DD", o->fit_until);
        if (d >= sp->held_out_from) {
            char h[11];
            civ_date_format(sp->held_out_from, h);
            return civ_fail(err, CIV_ERR_USAGE, "--fit-until %s is inside the held-out window: %s declares "
                            "calibration.held_out_from = %s, which is never fitted", o->fit_until, s->study_file, h);
        }
        if (d - s->start_day < min_fit || d - s->start_day > last) {
            char a[11], b[11];
            civ_date_format(s->start_day + min_fit, a);
            civ_date_format(s->start_day + last, b);
            return civ_fail(err, CIV_ERR_USAGE, "--fit-until %s must lie between %s and %s (the study's dates)", o->fit_until, a, b);
        }
        fd = d - s->start_day;
    } else if (cJSON_GetObjectItemCaseSensitive(cal, "fit_until")) {
        if (read_day(&c, s, cal, "calibration", "fit_until", true, min_fit, fit_max,
                     hd != INT_MAX ? "the study's dates, before calibration.held_out_from" : "the study's dates", &fd))
            return err->status;
    } else if (hd != INT_MAX) {
        fd = fit_max;
    } else {
        return civ_fail(err, CIV_ERR_INPUT, "%s: field 'calibration.fit_until' (the last fitted day) or "
                        "'calibration.held_out_from' (the first held-out day) is required", s->study_file);
    }
    sp->fit_until = s->start_day + fd;
    sp->fit.fit_day = fd;
    if (read_parameters(&c, s, cJSON_GetObjectItemCaseSensitive(cal, "parameters"), sp) ||
        read_targets(&c, s, cJSON_GetObjectItemCaseSensitive(cal, "targets"), sp) ||
        read_sero(&c, s, cJSON_GetObjectItemCaseSensitive(cal, "serosurvey"), sp) ||
        read_deaths_by_age(&c, s, cJSON_GetObjectItemCaseSensitive(cal, "deaths_by_age"), sp) || read_method(&c, cal, o, sp))
        return err->status;
    sp->fit.days = fd + 1;
    for (int j = 0; j < sp->fit.n_sero; j++)
        if (sp->fit.sero[j].day + 1 > sp->fit.days) sp->fit.days = sp->fit.sero[j].day + 1;
    return CIV_OK;
}
