#include "host/output/ensemble_validation.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/boroughs.h"
#include "host/output/ensemble_stats.h"
#include "host/population/population.h"
#include "host/study/study.h"
#include "host/util/csv.h"
#include "host/util/date.h"
#include "host/util/error.h"

static const char *const stages[] = {"susceptible", "exposed", "presymptomatic", "asymptomatic", "mild",
                                     "severe", "hospitalised", "recovered", "dead"};
#define N_STAGES (int)(sizeof stages / sizeof stages[0])

typedef struct {
    const civ_ens *e;
    int nb, edges[CIV_MAX_BANDS];
    double *people;   /* [base run][borough][band]: everyone, dead included, on the first day */
} base_pop;

/* "18-24", "75+" */
static void band_label(const base_pop *p, int k, char *buf, size_t n)
{
    if (k + 1 < p->nb) snprintf(buf, n, "%d-%d", p->edges[k], p->edges[k + 1] - 1);
    else snprintf(buf, n, "%d+", p->edges[k]);
}

static civ_status load_people(base_pop *p, civ_error *err)
{
    const civ_ens *e = p->e;
    civ_status st = civ_ens_bands(e, p->edges, &p->nb, err);
    if (st) return st;
    p->people = civ_xcalloc((size_t)e->seeds * CIV_NBOROUGH * p->nb, sizeof(double));
    for (int s = 0; s < N_STAGES && !st; s++) {
        double *v = NULL;
        int nb = 0;
        if ((st = civ_ens_series_bands(e, stages[s], &v, &nb, err))) break;
        for (int r = 0; r < e->seeds; r++)   /* the base's runs come first */
            for (int c = 0; c < CIV_NBOROUGH * nb; c++)
                p->people[(size_t)r * CIV_NBOROUGH * nb + c] += v[(size_t)r * e->steps * CIV_NBOROUGH * nb + c];
        free(v);
    }
    return st;
}

static void ratio_text(double sim, double obs, char *buf, size_t n)
{
    if (obs > 0 && !isnan(sim)) snprintf(buf, n, "%.2f", sim / obs);
    else snprintf(buf, n, "-");
}

/* ---- the share ever infected against the base study's serosurveys ---- */

static void one_survey(civ_doc *d, const base_pop *p, const double *sus, const cJSON *s, int idx)
{
    const civ_ens *e = p->e;
    const cJSON *date = cJSON_GetObjectItemCaseSensitive(s, "date"), *share = cJSON_GetObjectItemCaseSensitive(s, "share");
    const cJSON *ci = cJSON_GetObjectItemCaseSensitive(s, "ci95"), *age = cJSON_GetObjectItemCaseSensitive(s, "min_age");
    const cJSON *boro = cJSON_GetObjectItemCaseSensitive(s, "borough");
    int day = 0, t = -1, b0 = -1, k0 = -1;
    const int min_age = cJSON_IsNumber(age) ? age->valueint : 18;
    if (cJSON_IsString(date) && civ_date_parse(date->valuestring, &day)) t = day - e->start_day;
    if (cJSON_IsString(boro)) b0 = civ_borough_index(boro->valuestring);
    for (int k = 0; k < p->nb; k++)
        if (p->edges[k] == min_age) k0 = k;
    char name[64], group[64], sim_text[64] = "-", obs_text[64] = "-", ratio[16] = "-";
    snprintf(name, sizeof name, "serosurvey %d, %s", idx + 1, cJSON_IsString(date) ? date->valuestring : "?");
    snprintf(group, sizeof group, "%s, aged %d+", b0 >= 0 ? civ_borough_code[b0] : "New York City", min_age);
    const bool usable = t >= 0 && t < e->steps && k0 >= 0 && cJSON_IsNumber(share) && (!cJSON_IsString(boro) || b0 >= 0);
    if (cJSON_IsNumber(share)) {
        const cJSON *lo = cJSON_IsArray(ci) ? cJSON_GetArrayItem(ci, 0) : NULL, *hi = cJSON_IsArray(ci) ? cJSON_GetArrayItem(ci, 1) : NULL;
        if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi))
            snprintf(obs_text, sizeof obs_text, "%.1f%% [%.1f%%, %.1f%%]", 100 * share->valuedouble, 100 * lo->valuedouble,
                     100 * hi->valuedouble);
        else snprintf(obs_text, sizeof obs_text, "%.1f%%", 100 * share->valuedouble);
    }
    const char *note = usable ? "" : t < 0 || t >= e->steps ? "outside the simulated dates"
                                   : k0 < 0 ? "min_age is not an edge of the output age bands" : "unreadable survey";
    if (usable) {
        double *v = civ_xmalloc((size_t)e->seeds * sizeof(double));
        for (int r = 0; r < e->seeds; r++) {
            double s_sum = 0, n_sum = 0;
            for (int b = 0; b < CIV_NBOROUGH; b++) {
                if (b0 >= 0 && b != b0) continue;
                for (int k = k0; k < p->nb; k++) {
                    s_sum += sus[(((size_t)r * e->steps + t) * CIV_NBOROUGH + b) * p->nb + k];
                    n_sum += p->people[((size_t)r * CIV_NBOROUGH + b) * p->nb + k];
                }
            }
            v[r] = n_sum > 0 ? 100 * (1 - s_sum / n_sum) : NAN;
        }
        civ_interval iv = civ_interval_of(v, e->seeds);
        free(v);
        snprintf(sim_text, sizeof sim_text, "%.1f%% [%.1f%%, %.1f%%]", iv.median, iv.p05, iv.p95);
        ratio_text(iv.median, 100 * share->valuedouble, ratio, sizeof ratio);
        const cJSON *lo = cJSON_IsArray(ci) ? cJSON_GetArrayItem(ci, 0) : NULL, *hi = cJSON_IsArray(ci) ? cJSON_GetArrayItem(ci, 1) : NULL;
        if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi))
            note = iv.median >= 100 * lo->valuedouble && iv.median <= 100 * hi->valuedouble ? "median inside the CI"
                                                                                             : "median outside the CI";
    }
    const char *cells[6] = {name, group, sim_text, obs_text, ratio, note};
    civ_doc_table_row(d, cells);
}

static civ_status serosurveys(civ_doc *d, const base_pop *p, civ_error *err)
{
    const civ_ens *e = p->e;
    civ_doc_heading(d, 3, "serosurveys", "Share ever infected against the serosurveys");
    cJSON *cfg = e->config[0] ? cJSON_Parse(e->config[0]) : NULL;
    const cJSON *study = cJSON_GetObjectItemCaseSensitive(cfg, "study");
    const cJSON *cal = cJSON_GetObjectItemCaseSensitive(study ? study : cfg, "calibration");
    const cJSON *sero = cJSON_GetObjectItemCaseSensitive(cal, "serosurvey");
    if (!sero || !(cJSON_IsArray(sero) || cJSON_IsObject(sero))) {
        civ_doc_para(d, "The base study names no serosurvey (calibration.serosurvey): nothing to compare.");
        cJSON_Delete(cfg);
        return CIV_OK;
    }
    double *sus = NULL;
    int nb = 0;
    civ_status st = civ_ens_series_bands(e, "susceptible", &sus, &nb, err);
    if (!st) {
        civ_doc_para(d, "The base's share of the group ever infected on the survey's date (1 - susceptible / people, "
                     "initial infections included) over its runs, against the survey as its calibration section "
                     "states it (the date there already allows for the antibody delay). Ratio = median / observed.");
        static const char *const head[6] = {"survey", "group", "base median [5%, 95%]", "observed [95% CI]",
                                            "ratio", "note"};
        civ_doc_table_start(d, 6, head);
        int i = 0;
        if (cJSON_IsObject(sero)) one_survey(d, p, sus, sero, 0);
        else
            for (const cJSON *s = sero->child; s; s = s->next, i++) one_survey(d, p, sus, s, i);
        civ_doc_table_end(d);
    }
    free(sus);
    cJSON_Delete(cfg);
    return st;
}

/* ---- rates per 100k by age against DOHMH's weekly rates by age ---- */

typedef struct {
    const char *var, *column, *label;
} age_measure;

static const age_measure measures[3] = {
    {"new_reported_cases", "case_rate_per_100k", "reported cases"},
    {"new_hospitalisations", "hosp_rate_per_100k", "hospital admissions"},
    {"new_deaths", "death_rate_per_100k", "deaths"},
};

/* DOHMH's rate for a group over days [t0, t1]: each week (ending on week_ending, 7 days) counts for the
 * share of its days inside the window; an empty (suppressed) cell counts as 0. NaN: the group has no value
 * in the window at all (DOHMH gives children's cases and admissions only as 0-4, 5-12 and 13-17). */
static civ_status observed_rate(const civ_csv *csv, int c_week, int c_group, int c_rate, const char *group, int d0,
                                int d1, double *out, civ_error *err)
{
    double sum = 0;
    bool found = false;
    for (int r = 0; r < csv->nrows; r++) {
        if (strcmp(csv->cells[r][c_group], group) != 0) continue;
        int end = 0;
        if (!civ_date_parse(csv->cells[r][c_week], &end))
            return civ_fail(err, CIV_ERR_INPUT, "%s: row %d: week_ending = '%s' is not a date YYYY-MM-DD", csv->path, r + 2,
                            csv->cells[r][c_week]);
        const int lo = end - 6 > d0 ? end - 6 : d0, hi = end < d1 ? end : d1;
        if (hi < lo) continue;
        found |= csv->cells[r][c_rate][0] != '\0';
        double rate = 0;
        civ_status st = civ_csv_number(csv, r, c_rate, 0, &rate, err);
        if (st) return st;
        sum += rate * (hi - lo + 1) / 7.0;
    }
    *out = found ? sum : NAN;
    return CIV_OK;
}

static civ_status by_age(civ_doc *d, const base_pop *p, int t0, int t1, const char *data_dir, civ_error *err)
{
    const civ_ens *e = p->e;
    char a[11], b[11];
    civ_date_format(e->start_day + t0, a);
    civ_date_format(e->start_day + t1, b);
    civ_doc_heading(d, 3, "by-age", "Rates by age");
    char path[4200];
    snprintf(path, sizeof path, "%s/nyc_covid_weekly_rates_by_age.csv", data_dir ? data_dir : ".");
    FILE *probe = fopen(path, "r");
    if (!probe) {
        civ_doc_para(d, "DOHMH's weekly rates by age (nyc_covid_weekly_rates_by_age.csv) are not in the data folder "
                     "(`--data DIR`): nothing to compare.");
        return CIV_OK;
    }
    fclose(probe);
    civ_csv csv;
    civ_status st = civ_csv_read(path, &csv, err);
    if (st) return st;
    int c_week = 0, c_group = 0, c_rate[3] = {0};
    if (!(st = civ_csv_col(&csv, "week_ending", &c_week, err)) && !(st = civ_csv_col(&csv, "age_group", &c_group, err)))
        for (int m = 0; m < 3 && !st; m++) st = civ_csv_col(&csv, measures[m].column, &c_rate[m], err);
    if (st) { civ_csv_free(&csv); return st; }
    civ_doc_para(d, "Per 100k people of each age group, city-wide, from %s to %s: the base's median and 5-95%% band over "
                 "its runs (its own population as denominator) against DOHMH's weekly rates by age (each week counted "
                 "for its days inside the window; suppressed weeks as 0). Ratio = median / observed.", a, b);
    static const char *const head[5] = {"series", "age", "base median [5%, 95%]", "observed", "ratio"};
    civ_doc_table_start(d, 5, head);
    double *v = civ_xmalloc((size_t)e->seeds * sizeof(double));
    for (int m = 0; m < 3 && !st; m++) {
        double *series = NULL;
        int nb = 0;
        if ((st = civ_ens_series_bands(e, measures[m].var, &series, &nb, err))) break;
        for (int k = -1; k < p->nb && !st; k++) {   /* -1: all ages */
            char label[32], group[32];
            if (k < 0) { snprintf(label, sizeof label, "all ages"); snprintf(group, sizeof group, "all"); }
            else {
                band_label(p, k, label, sizeof label);
                snprintf(group, sizeof group, "%s", label);
                for (char *c = group; *c; c++) if (*c == '-') *c = '_';
            }
            for (int r = 0; r < e->seeds; r++) {
                double events = 0, people = 0;
                for (int bo = 0; bo < CIV_NBOROUGH; bo++)
                    for (int kk = 0; kk < p->nb; kk++) {
                        if (k >= 0 && kk != k) continue;
                        people += p->people[((size_t)r * CIV_NBOROUGH + bo) * p->nb + kk];
                        for (int t = t0; t <= t1; t++) events += series[(((size_t)r * e->steps + t) * CIV_NBOROUGH + bo) * nb + kk];
                    }
                v[r] = people > 0 ? events / people * 1e5 : NAN;
            }
            civ_interval iv = civ_interval_of(v, e->seeds);
            double obs = NAN;
            st = observed_rate(&csv, c_week, c_group, c_rate[m], group, e->start_day + t0, e->start_day + t1, &obs, err);
            char sim_text[80], obs_text[32], ratio[16];
            snprintf(sim_text, sizeof sim_text, "%.1f [%.1f, %.1f]", iv.median, iv.p05, iv.p95);
            if (isnan(obs)) snprintf(obs_text, sizeof obs_text, "-");
            else snprintf(obs_text, sizeof obs_text, "%.1f", obs);
            ratio_text(iv.median, obs, ratio, sizeof ratio);
            const char *cells[5] = {measures[m].label, label, sim_text, obs_text, ratio};
            civ_doc_table_row(d, cells);
        }
        free(series);
    }
    civ_doc_table_end(d);
    free(v);
    civ_csv_free(&csv);
    return st;
}

civ_status civ_ens_validation(civ_doc *d, const civ_ens *e, int t0, int t1, const char *data_dir, civ_error *err)
{
    base_pop p = {.e = e};
    civ_status st = load_people(&p, err);
    if (!st) st = serosurveys(d, &p, err);
    if (!st) st = by_age(d, &p, t0, t1, data_dir, err);
    free(p.people);
    return st;
}
