#include "models/covid/covid_params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "host/util/csv.h"
#include "host/util/json_util.h"

/* ---- distributions (double precision, host only: tables are built once) ---- */

double civ_gamma_p(double a, double x)
{
    if (x <= 0) return 0.0;
    double gln = lgamma(a);
    if (x < a + 1.0) {            /* series */
        double sum = 1.0 / a, del = sum, ap = a;
        for (int n = 0; n < 1000; n++) {
            ap += 1.0; del *= x / ap; sum += del;
            if (fabs(del) < fabs(sum) * 1e-15) break;
        }
        return sum * exp(-x + a * log(x) - gln);
    }
    /* continued fraction for Q(a, x) (modified Lentz) */
    double b = x + 1.0 - a, c = 1.0 / 1e-300, d = 1.0 / b, h = d;
    for (int i = 1; i < 1000; i++) {
        double an = -i * (i - a);
        b += 2.0;
        d = an * d + b; if (fabs(d) < 1e-300) d = 1e-300;
        c = b + an / c; if (fabs(c) < 1e-300) c = 1e-300;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-15) break;
    }
    return 1.0 - exp(-x + a * log(x) - gln) * h;
}

double civ_gamma_cdf_mean_sd(double x, double mean, double sd)
{
    double shape = mean * mean / (sd * sd), scale = sd * sd / mean;
    return civ_gamma_p(shape, x / scale);
}

static double lognormal_cdf(double x, double mean, double sd)
{
    if (x <= 0) return 0.0;
    double s2 = log(1.0 + sd * sd / (mean * mean));
    double mu = log(mean) - s2 / 2.0;
    return 0.5 * erfc(-(log(x) - mu) / sqrt(2.0 * s2));
}

typedef enum { DIST_FIXED, DIST_GAMMA, DIST_LOGNORMAL } dist_kind;

static double dist_cdf(dist_kind k, double x, double mean, double sd)
{
    if (k == DIST_FIXED) return x >= mean ? 1.0 : 0.0;
    if (k == DIST_GAMMA) return civ_gamma_cdf_mean_sd(x, mean, sd);
    return lognormal_cdf(x, mean, sd);
}

static uint32_t to_u32_prob(double p)
{
    if (p <= 0) return 0;
    if (p >= 1) return 0xFFFFFFFFu;
    double v = p * 4294967296.0;
    return v >= 4294967295.0 ? 0xFFFFFFFFu : (uint32_t)v;
}

/* ---- parameter reading ---- */

typedef struct {
    civ_jctx c;
    const cJSON *params;
} reader;

static const char *const known_params[] = {
    "beta", "relative_susceptibility", "p_symptomatic", "ifr", "ihr", "death_outside_hospital", "ifr_scale",
    "ihr_scale",
    "infectiousness_asymptomatic", "infectiousness_mild", "infectiousness_severe",
    "infectiousness_profile", "latent_period", "presymptomatic_period", "asymptomatic_recovery",
    "mild_recovery", "onset_to_hospital", "hospital_to_recovery", "hospital_to_death",
    "weight_household", "household_size_exponent", "outside_home_exposure", "outside_home_exposure_contrast",
    "weight_school", "weight_work", "weight_community",
    "weight_care_home", "contacts_care_home", "care_home_ifr_multiplier", "care_home_death_outside_hospital",
    "test_sensitivity", "hospital_test_probability", "note", NULL};

static const cJSON *param(reader *r, const char *name, char *path, size_t n)
{
    snprintf(path, n, "parameters.%s", name);
    const cJSON *p = NULL;
    if (civ_json_object(&r->c, r->params, "parameters", name, true, &p)) return NULL;
    const char *src = NULL;
    if (civ_json_string(&r->c, p, path, "source", true, &src)) return NULL;
    return p;
}

static civ_status scalar(reader *r, const char *name, double lo, double hi, double *out)
{
    char path[128];
    const cJSON *p = param(r, name, path, sizeof path);
    if (!p) return r->c.err->status;
    static const char *const keys[] = {"value", "unit", "source", "note", NULL};
    if (civ_json_check_keys(&r->c, p, path, keys)) return r->c.err->status;
    return civ_json_number(&r->c, p, path, "value", lo, hi, true, out);
}

static civ_status by_age(reader *r, const char *name, double lo, double hi, double out[CIV_N_AGE10])
{
    char path[128];
    const cJSON *p = param(r, name, path, sizeof path);
    if (!p) return r->c.err->status;
    static const char *const keys[] = {"value", "age_bands", "unit", "source", "note", NULL};
    if (civ_json_check_keys(&r->c, p, path, keys)) return r->c.err->status;
    return civ_json_numbers(&r->c, p, path, "value", lo, hi, CIV_N_AGE10, CIV_N_AGE10, true, out, NULL);
}

/* A value per race/ethnicity group: {"value": {"asian": x, "black": x, ...}}, every group named once. */
static civ_status by_ethnicity(reader *r, const char *name, double lo, double hi, double out[CIV_N_ETHNICITY])
{
    char path[128], vpath[160];
    const cJSON *p = param(r, name, path, sizeof path);
    if (!p) return r->c.err->status;
    static const char *const keys[] = {"value", "unit", "source", "note", NULL};
    static const char *const groups[CIV_N_ETHNICITY + 1] = {CIV_ETHNICITY_NAMES, NULL};
    const cJSON *v = NULL;
    if (civ_json_check_keys(&r->c, p, path, keys) || civ_json_object(&r->c, p, path, "value", true, &v))
        return r->c.err->status;
    snprintf(vpath, sizeof vpath, "%s.value", path);
    if (civ_json_check_keys(&r->c, v, vpath, groups)) return r->c.err->status;
    for (int g = 0; g < CIV_N_ETHNICITY; g++)
        if (civ_json_number(&r->c, v, vpath, groups[g], lo, hi, true, &out[g])) return r->c.err->status;
    return CIV_OK;
}

/* A value per single year of age, interpolated between nodes {"age": [...], "value": [...]} (ages
 * increasing from 0; constant beyond the last node): log-linearly when `log_scale` (values > 0), else
 * linearly. */
static civ_status by_single_age(reader *r, const char *name, int log_scale, double lo, double hi,
                                double out[CIV_MAX_AGE + 1])
{
    char path[128];
    const cJSON *p = param(r, name, path, sizeof path);
    if (!p) return r->c.err->status;
    static const char *const keys[] = {"age", "value", "interpolation", "unit", "source", "note", NULL};
    enum { MAX_NODES = 32 };
    double age[MAX_NODES], val[MAX_NODES];
    int n_age = 0, n_val = 0;
    if (civ_json_check_keys(&r->c, p, path, keys) ||
        civ_json_numbers(&r->c, p, path, "age", 0, CIV_MAX_AGE, -1, MAX_NODES, true, age, &n_age) ||
        civ_json_numbers(&r->c, p, path, "value", log_scale ? 1e-12 : lo, hi, -1, MAX_NODES, true, val, &n_val))
        return r->c.err->status;
    if (n_age != n_val)
        return civ_fail(r->c.err, CIV_ERR_INPUT, "%s: '%s': %d ages but %d values", r->c.file, path, n_age, n_val);
    if (age[0] != 0)
        return civ_fail(r->c.err, CIV_ERR_INPUT, "%s: '%s.age' must start at 0, got %g", r->c.file, path, age[0]);
    for (int k = 1; k < n_age; k++)
        if (age[k] <= age[k - 1])
            return civ_fail(r->c.err, CIV_ERR_INPUT, "%s: '%s.age' must increase: %g after %g", r->c.file, path,
                            age[k], age[k - 1]);
    for (int a = 0, k = 0; a <= CIV_MAX_AGE; a++) {
        while (k + 1 < n_age && a >= age[k + 1]) k++;
        if (k + 1 >= n_age) { out[a] = val[n_age - 1]; continue; }
        const double t = (a - age[k]) / (age[k + 1] - age[k]);
        out[a] = log_scale ? exp(log(val[k]) + t * (log(val[k + 1]) - log(val[k]))) : val[k] + t * (val[k + 1] - val[k]);
    }
    return CIV_OK;
}

/* Severity tables from the IFR, IHR and share of deaths outside hospital per year of age. A severe course
 * is an admission (IHR) or a death without one (IFR x outside share); deaths in hospital are capped at
 * max_hospital_fatality of admissions (the rest happen outside), and admissions at what the symptomatic
 * share leaves (at the oldest ages, with scaled-up IHRs, every severe course is then admitted or fatal). */
static civ_status severity(const char *file, int residence, const double *p_symptomatic10, const double *ifr,
                           const double *ihr, const double *outside, civ_covid_params *m, civ_error *err)
{
    const double max_hospital_fatality = 0.9;
    for (int a = 0; a <= CIV_MAX_AGE; a++) {
        const double ps = p_symptomatic10[a / 10 < CIV_N_AGE10 ? a / 10 : CIV_N_AGE10 - 1];
        double die_hosp = ifr[a] * (1 - outside[a]);
        if (die_hosp > max_hospital_fatality * ihr[a]) die_hosp = max_hospital_fatality * ihr[a];
        const double die_out = ifr[a] - die_hosp;
        double admitted = ihr[a];
        if (die_out + die_hosp / max_hospital_fatality > ps)
            return civ_fail(err, CIV_ERR_INPUT, "%s: age %d%s: deaths per infection (%g, %g of them outside hospital) "
                            "exceed p_symptomatic (%g); severe courses are symptomatic", file, a,
                            residence ? " (care-home residents)" : "", ifr[a], die_out, ps);
        if (admitted + die_out > ps) admitted = ps - die_out;
        const double severe = admitted + die_out;
        m->p_severe_given_symptomatic[residence][a] = ps > 0 ? (float)(severe / ps) : 0.0f;
        m->p_dies_outside_given_severe[residence][a] = severe > 0 ? (float)(die_out / severe) : 0.0f;
        m->p_dies_in_hospital_given_severe[residence][a] = severe > 0 ? (float)(die_hosp / severe) : 0.0f;
    }
    return CIV_OK;
}

static civ_status distribution(reader *r, const char *name, double max_mean, dist_kind *kind,
                               double *mean, double *sd)
{
    char path[128];
    const cJSON *p = param(r, name, path, sizeof path);
    if (!p) return r->c.err->status;
    static const char *const keys[] = {"distribution", "mean", "sd", "unit", "source", "note", NULL};
    const char *d = NULL;
    if (civ_json_check_keys(&r->c, p, path, keys) ||
        civ_json_string(&r->c, p, path, "distribution", true, &d) ||
        civ_json_number(&r->c, p, path, "mean", 0.5, max_mean, true, mean))
        return r->c.err->status;
    if (strcmp(d, "fixed") == 0) { *kind = DIST_FIXED; *sd = 0; return CIV_OK; }
    if (strcmp(d, "gamma") == 0) *kind = DIST_GAMMA;
    else if (strcmp(d, "lognormal") == 0) *kind = DIST_LOGNORMAL;
    else
        return civ_fail(r->c.err, CIV_ERR_INPUT, "%s: field '%s.distribution' = \"%s\" must be one of fixed, gamma, lognormal",
                        r->c.file, path, d);
    return civ_json_number(&r->c, p, path, "sd", 0.01, 60, true, sd);
}

civ_status civ_covid_params_build(cJSON *model, const cJSON *overrides, const char *model_file,
                                  const char *study_file, civ_covid_params *m, civ_error *err)
{
    memset(m, 0, sizeof *m);
    reader r = {{model_file, err}, NULL};
    static const char *const top[] = {"model", "description", "parameters", NULL};
    if (civ_json_check_keys(&r.c, model, "", top)) return err->status;
    cJSON *params = cJSON_GetObjectItemCaseSensitive(model, "parameters");
    if (!cJSON_IsObject(params))
        return civ_fail(err, CIV_ERR_INPUT, "%s: missing object 'parameters'", model_file);
    r.params = params;
    if (civ_json_check_keys(&r.c, params, "parameters", known_params)) return err->status;

    /* study overrides: a number/array replaces "value", an object is merged */
    if (overrides) {
        civ_jctx sc = {study_file, err};
        if (civ_json_check_keys(&sc, overrides, "parameters", known_params)) return err->status;
        for (const cJSON *o = overrides->child; o; o = o->next) {
            if (strcmp(o->string, "note") == 0) continue;
            cJSON *p = cJSON_GetObjectItemCaseSensitive(params, o->string);
            if (!cJSON_IsObject(p))
                return civ_fail(err, CIV_ERR_INPUT, "%s: parameters.%s is not defined in %s",
                                study_file, o->string, model_file);
            if (cJSON_IsObject(o)) civ_json_merge_patch(p, o);
            else if (cJSON_GetObjectItemCaseSensitive(p, "value"))
                cJSON_ReplaceItemInObjectCaseSensitive(p, "value", cJSON_Duplicate(o, 1));
            else
                return civ_fail(err, CIV_ERR_INPUT, "%s: parameters.%s = %s: this parameter is a distribution; "
                                "override it with an object such as {\"mean\": 5}", study_file, o->string, civ_json_repr(o));
            cJSON *src = cJSON_GetObjectItemCaseSensitive(p, "source");
            if (src) cJSON_ReplaceItemInObjectCaseSensitive(p, "source",
                cJSON_CreateString("overridden by the study file"));
        }
    }

    double sus[CIV_N_AGE10], ps[CIV_N_AGE10];
    double ifr[CIV_MAX_AGE + 1], ihr[CIV_MAX_AGE + 1], outside[CIV_MAX_AGE + 1];
    double exposure[CIV_N_ETHNICITY], contrast;
    double beta, fa, fm, fs, wh, hx, ws, ww, wc, wch, cch, sens, hosp_test, ifr_scale, ihr_scale, care_ifr, care_outside;
    if (scalar(&r, "beta", 0, 100, &beta) || by_age(&r, "relative_susceptibility", 0, 10, sus) ||
        by_age(&r, "p_symptomatic", 0, 1, ps) || by_single_age(&r, "ifr", 1, 0, 1, ifr) ||
        by_single_age(&r, "ihr", 1, 0, 1, ihr) || by_single_age(&r, "death_outside_hospital", 0, 0, 1, outside) ||
        scalar(&r, "ifr_scale", 0, 10, &ifr_scale) || scalar(&r, "ihr_scale", 0, 10, &ihr_scale) ||
        scalar(&r, "infectiousness_asymptomatic", 0, 10, &fa) || scalar(&r, "infectiousness_mild", 0, 10, &fm) ||
        scalar(&r, "infectiousness_severe", 0, 10, &fs) ||
        scalar(&r, "weight_household", 0, 100, &wh) || scalar(&r, "household_size_exponent", 0, 2, &hx) ||
        by_ethnicity(&r, "outside_home_exposure", 0.1, 10, exposure) ||
        scalar(&r, "outside_home_exposure_contrast", 0, 3, &contrast) ||
        scalar(&r, "weight_school", 0, 100, &ws) ||
        scalar(&r, "weight_work", 0, 100, &ww) || scalar(&r, "weight_community", 0, 100, &wc) ||
        scalar(&r, "weight_care_home", 0, 100, &wch) || scalar(&r, "contacts_care_home", 0, 200, &cch) ||
        scalar(&r, "care_home_ifr_multiplier", 0, 20, &care_ifr) ||
        scalar(&r, "care_home_death_outside_hospital", 0, 1, &care_outside) ||
        scalar(&r, "test_sensitivity", 0, 1, &sens) || scalar(&r, "hospital_test_probability", 0, 1, &hosp_test))
        return err->status;
    for (int g = 0; g < CIV_N_AGE10; g++) {
        m->susceptibility[g] = (float)sus[g];
        m->p_symptomatic[g] = (float)ps[g];
    }
    for (int a = 0; a <= CIV_MAX_AGE; a++) {
        ifr[a] = fmin(1.0, ifr[a] * ifr_scale);
        ihr[a] = fmin(1.0, ihr[a] * ihr_scale);
    }
    if (severity(model_file, CIV_RES_HOUSEHOLD, ps, ifr, ihr, outside, m, err)) return err->status;
    /* care-home residents: a higher fatality at the same age, most deaths in the home */
    for (int a = 0; a <= CIV_MAX_AGE; a++) {
        ifr[a] = fmin(1.0, ifr[a] * care_ifr);
        outside[a] = care_outside;
    }
    if (severity(model_file, CIV_RES_CARE_HOME, ps, ifr, ihr, outside, m, err)) return err->status;
    m->factor_q[0] = (uint32_t)lround(fa * CIV_FIXED_ONE);
    m->factor_q[1] = (uint32_t)lround(fm * CIV_FIXED_ONE);
    m->factor_q[2] = (uint32_t)lround(fs * CIV_FIXED_ONE);
    m->w_household = (float)wh; m->w_school = (float)ws; m->w_work = (float)ww; m->w_community = (float)wc;
    m->w_care_home = (float)wch;
    for (int size = 0; size < CIV_MAX_HOUSEHOLD_SCALE; size++)
        m->household_contact_q[size] = size <= 2 ? CIV_FIXED_ONE : (uint32_t)lround(CIV_FIXED_ONE * pow(size - 1, -hx));
    for (int g = 0; g < CIV_N_ETHNICITY; g++) {   /* made relative to the population's mean by the engine */
        m->exposure_relative[g] = (float)pow(exposure[g], contrast);
        m->exposure_q[g] = CIV_FIXED_ONE;
        m->exposure[g] = 1.0f;
    }
    m->contacts_care_home = (float)cch;
    m->test_sensitivity = (float)sens;
    m->p_hospital_test = (float)hosp_test;
    (void)beta; /* beta is per-day policy state: read again by the study loader */

    dist_kind k;
    double mean, sd;
    if (distribution(&r, "infectiousness_profile", 30, &k, &mean, &sd)) return err->status;
    for (int d = 0; d < CIV_MAX_DAYS; d++)
        m->profile_q[d] = (uint32_t)lround(CIV_FIXED_ONE * (dist_cdf(k, d + 1, mean, sd) - dist_cdf(k, d, mean, sd)));

    static const char *const dur_names[CIV_N_DUR] = {"latent_period", "presymptomatic_period",
        "asymptomatic_recovery", "mild_recovery", "onset_to_hospital", "hospital_to_recovery",
        "hospital_to_death"};
    for (int j = 0; j < CIV_N_DUR; j++) {
        if (distribution(&r, dur_names[j], 40, &k, &mean, &sd)) return err->status;
        /* whole days: D = round(X), at least 1 */
        m->dur_cdf[j][0] = 0;
        for (int d = 1; d < CIV_MAX_DAYS; d++)
            m->dur_cdf[j][d] = d == CIV_MAX_DAYS - 1 ? 0xFFFFFFFFu : to_u32_prob(dist_cdf(k, d + 0.5, mean, sd));
    }
    for (int a = 0; a <= CIV_MAX_AGE; a++) {
        m->age10_of_age[a] = (uint8_t)(a / 10 < CIV_N_AGE10 ? a / 10 : CIV_N_AGE10 - 1);
        m->prem_of_age[a] = (uint8_t)(a / 5 < CIV_N_PREM ? a / 5 : CIV_N_PREM - 1);
        m->community_band_of_age[a] = m->prem_of_age[a];
    }
    return CIV_OK;
}

civ_status civ_covid_load_prem(const char *csv_path, const char *region_type, civ_covid_params *m,
                               civ_error *err)
{
    civ_csv csv;
    civ_status st = civ_csv_read(csv_path, &csv, err);
    if (st) return st;
    int cr, cs, ci, cj, cv;
    if ((st = civ_csv_col(&csv, "region_type", &cr, err)) || (st = civ_csv_col(&csv, "setting", &cs, err)) ||
        (st = civ_csv_col(&csv, "age_i", &ci, err)) || (st = civ_csv_col(&csv, "age_j", &cj, err)) ||
        (st = civ_csv_col(&csv, "mean_contacts", &cv, err))) goto out;
    static const char *const bands[CIV_N_PREM] = {"0_4", "5_9", "10_14", "15_19", "20_24", "25_29",
        "30_34", "35_39", "40_44", "45_49", "50_54", "55_59", "60_64", "65_69", "70_74", "75+"};
    double school[CIV_N_PREM][CIV_N_PREM] = {{0}}, work[CIV_N_PREM][CIV_N_PREM] = {{0}},
           others[CIV_N_PREM][CIV_N_PREM] = {{0}};
    int seen = 0;
    for (int r = 0; r < csv.nrows; r++) {
        if (strcmp(csv.cells[r][cr], region_type) != 0) continue;
        double (*dst)[CIV_N_PREM] = NULL;
        const char *s = csv.cells[r][cs];
        if (strcmp(s, "school") == 0) dst = school;
        else if (strcmp(s, "work") == 0) dst = work;
        else if (strcmp(s, "others") == 0) dst = others;
        else continue;
        int a = -1, b = -1;
        for (int k = 0; k < CIV_N_PREM; k++) {
            if (strcmp(csv.cells[r][ci], bands[k]) == 0) a = k;
            if (strcmp(csv.cells[r][cj], bands[k]) == 0) b = k;
        }
        if (a < 0 || b < 0) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: line %d: unknown age band '%s' or '%s'",
                          csv_path, r + 2, csv.cells[r][ci], csv.cells[r][cj]);
            goto out;
        }
        if ((st = civ_csv_number(&csv, r, cv, 0, &dst[a][b], err))) goto out;
        seen++;
    }
    if (seen != 3 * CIV_N_PREM * CIV_N_PREM) {
        st = civ_fail(err, CIV_ERR_INPUT, "%s: region_type '%s' has %d of the %d school/work/others cells "
                      "(valid region types in this file: overall, urban)", csv_path, region_type, seen,
                      3 * CIV_N_PREM * CIV_N_PREM);
        goto out;
    }
    for (int a = 0; a < CIV_N_PREM; a++) {
        double cs_sum = 0, cw_sum = 0;
        for (int b = 0; b < CIV_N_PREM; b++) {
            cs_sum += school[a][b];
            cw_sum += work[a][b];
            m->community_matrix[a][b] = (float)others[a][b];
        }
        m->contacts_school[a] = (float)cs_sum;
        m->contacts_work[a] = (float)cw_sum;
    }
    for (int a = 0; a <= CIV_MAX_AGE; a++) m->community_band_of_age[a] = m->prem_of_age[a];
out:
    civ_csv_free(&csv);
    return st;
}

void civ_covid_uniform_community(civ_covid_params *m, double contacts)
{
    memset(m->community_matrix, 0, sizeof m->community_matrix);
    m->community_matrix[0][0] = (float)contacts;
    for (int a = 0; a <= CIV_MAX_AGE; a++) m->community_band_of_age[a] = 0;
}
