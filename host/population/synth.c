/* Population synthesis from census marginals (see data/README.md):
 *   tract x age band x sex      -> agents (stochastic rounding keeps expected counts exact)
 *   tract household-size mix    -> co-resident households, each with at least one adult
 *   borough race/ethnicity mix  -> each household's group (one per household)
 *   borough LAUS labour force   -> employment status
 *   care homes per borough      -> older residents living in care homes, and their staff
 *   borough school-age children -> schools (nearby children together)
 *   ACS commuting flows         -> each worker's work borough; workplaces formed there
 * Every random choice is a Philox draw keyed by (seed, tract or agent, purpose),
 * so the same seed gives the same population. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/interrupt.h"
#include "host/util/csv.h"
#include "host/core/philox.h"
#include "host/population/population.h"

#define N_AGE_BINS 18      /* 0-4, 5-9, ..., 80-84, 85+ */
#define N_HH_SIZES 7       /* 1..6, 7+ */
#define ADULT_AGE 18

enum synth_stream { S_ROUND = 1, S_AGE, S_HHSIZE, S_SHUFFLE_ADULT, S_SHUFFLE_CHILD,
                    S_SLOTS, S_MERGE, S_LABOUR, S_WORKSHUFFLE, S_WORKSIZE, S_FIX, S_CARE_HOME, S_COMMUTE, S_ETHNICITY };

static uint32_t draw(uint64_t seed, uint32_t a, uint32_t b, uint32_t stream)
{
    civ_u32x4 ctr = {{a, b, CIV_RNG_SYNTH, stream}};
    return civ_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32)).v[0];
}

static uint32_t bounded(uint32_t u, uint32_t n) { return (uint32_t)(((uint64_t)u * n) >> 32); }

static void shuffle_u32(uint32_t *v, uint32_t n, uint64_t seed, uint32_t key, uint32_t stream)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = bounded(draw(seed, key, i, stream), i);
        uint32_t t = v[i - 1]; v[i - 1] = v[j]; v[j] = t;
    }
}

/* Labour-force participation by single year of age: BLS Current Population
 * Survey 2019 annual averages, civilian LFPR by age group (Table 3), rounded.
 * Only the relative shape matters: levels are scaled to LAUS per borough. */
static double participation(int age)
{
    if (age < 16) return 0.0;
    if (age < 20) return 0.35;
    if (age < 25) return 0.71;
    if (age < 55) return 0.82;
    if (age < 65) return 0.66;
    if (age < 70) return 0.33;
    if (age < 75) return 0.19;
    return 0.08;
}

/* School level by age, and the mean enrolment per school of that level.
 * Assumption: NYC public schools average ~600 pupils (elementary smaller,
 * high schools larger); every child aged 5-17 attends. */
static int school_level(int age) { return age < 5 || age > 17 ? -1 : age <= 10 ? 0 : age <= 13 ? 1 : 2; }
static const double school_size[3] = {450, 550, 650};

/* Workplace sizes: employment share by establishment size band (approximate
 * US County Business Patterns shape). A band is drawn per workplace with
 * probability share/size so that a worker's view matches the shares. */
static const int work_band_lo[] = {1, 5, 10, 20, 50, 100, 250, 500};
static const int work_band_hi[] = {4, 9, 19, 49, 99, 249, 499, 999};
static const double work_band_share[] = {0.05, 0.06, 0.09, 0.16, 0.13, 0.18, 0.13, 0.20};
#define N_WORK_BANDS 8

/* Care homes (nursing homes). Their number per borough is read from the long-term-care file (homes
 * listed with COVID-19 deaths by NYS DOH, nearly all of the city's); the rest are assumptions stated in
 * data/README.md: 250 residents per home (NY State averaged 170 residents per home in February 2020,
 * Manhattan's homes about 340 beds), residents' ages as in the US nursing-home population (NCHS
 * 2015-16: 16 % under 65, 17 % 65-74, 26 % 75-84, 41 % 85+; taken here from age 45), one staff member
 * per resident, chosen among the workers of the home's borough. */
#define CARE_HOME_RESIDENTS 250.0
#define CARE_HOME_STAFF_PER_RESIDENT 1.0
static const double care_age_share[4] = {0.16, 0.17, 0.26, 0.41};   /* 45-64, 65-74, 75-84, 85+ */
static int care_age_group(int age) { return age < 45 ? -1 : age < 65 ? 0 : age < 75 ? 1 : age < 85 ? 2 : 3; }

typedef struct {
    int n;                     /* tracts */
    char (*geoid)[12];
    uint8_t *borough;
    double (*cells)[2][N_AGE_BINS];     /* [tract][sex f=0,m=1][bin] */
    double (*hh)[N_HH_SIZES];
} tract_data;

static civ_status load_tracts(const char *dir, tract_data *td, civ_error *err)
{
    char path[1024];
    civ_csv age = {0}, hh = {0};
    civ_status st;
    snprintf(path, sizeof path, "%s/nyc_tract_age_sex_acs.csv", dir);
    if ((st = civ_csv_read(path, &age, err))) return st;
    snprintf(path, sizeof path, "%s/nyc_tract_household_size_acs.csv", dir);
    if ((st = civ_csv_read(path, &hh, err))) { civ_csv_free(&age); return st; }

    static const char *bins[N_AGE_BINS] = {"0_4", "5_9", "10_14", "15_19", "20_24", "25_29",
        "30_34", "35_39", "40_44", "45_49", "50_54", "55_59", "60_64", "65_69", "70_74",
        "75_79", "80_84", "85up"};
    int c_geoid, c_boro, cols[2][N_AGE_BINS], h_geoid, hcols[N_HH_SIZES];
    if ((st = civ_csv_col(&age, "geoid", &c_geoid, err)) ||
        (st = civ_csv_col(&age, "borough", &c_boro, err)) ||
        (st = civ_csv_col(&hh, "geoid", &h_geoid, err))) goto out;
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < N_AGE_BINS; b++) {
            char name[32];
            snprintf(name, sizeof name, "%c_%s", s ? 'm' : 'f', bins[b]);
            if ((st = civ_csv_col(&age, name, &cols[s][b], err))) goto out;
        }
    for (int k = 0; k < N_HH_SIZES; k++) {
        char name[32];
        if (k < 6) snprintf(name, sizeof name, "hh_size_%d", k + 1);
        else snprintf(name, sizeof name, "hh_size_7plus");
        if ((st = civ_csv_col(&hh, name, &hcols[k], err))) goto out;
    }
    if (hh.nrows != age.nrows) {
        st = civ_fail(err, CIV_ERR_INPUT, "%s: %d tracts, but the age/sex file has %d",
                      path, hh.nrows, age.nrows);
        goto out;
    }
    td->n = age.nrows;
    td->geoid = civ_xcalloc((size_t)td->n, sizeof *td->geoid);
    td->borough = civ_xcalloc((size_t)td->n, 1);
    td->cells = civ_xcalloc((size_t)td->n, sizeof *td->cells);
    td->hh = civ_xcalloc((size_t)td->n, sizeof *td->hh);
    for (int t = 0; t < td->n; t++) {
        if (strcmp(age.cells[t][c_geoid], hh.cells[t][h_geoid]) != 0) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: line %d has tract %s, the age/sex file has %s",
                          path, t + 2, hh.cells[t][h_geoid], age.cells[t][c_geoid]);
            goto out;
        }
        snprintf(td->geoid[t], 12, "%s", age.cells[t][c_geoid]);
        int b = civ_borough_index(age.cells[t][c_boro]);
        if (b < 0) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: line %d: unknown borough '%s'",
                          age.path, t + 2, age.cells[t][c_boro]);
            goto out;
        }
        td->borough[t] = (uint8_t)b;
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < N_AGE_BINS; k++) {
                if ((st = civ_csv_number(&age, t, cols[s][k], 0, &td->cells[t][s][k], err))) goto out;
                if (td->cells[t][s][k] < 0) {
                    st = civ_fail(err, CIV_ERR_INPUT, "%s: line %d: negative count in '%s'",
                                  age.path, t + 2, age.header[cols[s][k]]);
                    goto out;
                }
            }
        for (int k = 0; k < N_HH_SIZES; k++)
            if ((st = civ_csv_number(&hh, t, hcols[k], 0, &td->hh[t][k], err))) goto out;
    }
out:
    civ_csv_free(&age);
    civ_csv_free(&hh);
    return st;
}

static void free_tracts(tract_data *td)
{
    free(td->geoid); free(td->borough); free(td->cells); free(td->hh);
}

/* LAUS labour force and employed residents per borough for one month. */
static civ_status load_laus(const char *dir, int year, int month, double lf[CIV_NBOROUGH],
                            double emp[CIV_NBOROUGH], civ_error *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/nyc_laus_monthly_by_borough.csv", dir);
    civ_csv csv;
    civ_status st = civ_csv_read(path, &csv, err);
    if (st) return st;
    int cb, cy, cm, clf, cemp;
    if ((st = civ_csv_col(&csv, "borough", &cb, err)) || (st = civ_csv_col(&csv, "year", &cy, err)) ||
        (st = civ_csv_col(&csv, "month", &cm, err)) || (st = civ_csv_col(&csv, "labor_force", &clf, err)) ||
        (st = civ_csv_col(&csv, "employed", &cemp, err))) goto out;
    int found = 0;
    for (int r = 0; r < csv.nrows; r++) {
        double y, m;
        if ((st = civ_csv_number(&csv, r, cy, -1, &y, err)) || (st = civ_csv_number(&csv, r, cm, -1, &m, err))) goto out;
        if ((int)y != year || (int)m != month) continue;
        int b = civ_borough_index(csv.cells[r][cb]);
        if (b < 0) continue;
        if ((st = civ_csv_number(&csv, r, clf, 0, &lf[b], err)) || (st = civ_csv_number(&csv, r, cemp, 0, &emp[b], err))) goto out;
        found |= 1 << b;
    }
    if (found != (1 << CIV_NBOROUGH) - 1)
        st = civ_fail(err, CIV_ERR_INPUT, "%s: no labour-force rows for all five boroughs in %04d-%02d "
                      "(the file covers 2019-01 to 2023-12)", path, year, month);
out:
    civ_csv_free(&csv);
    return st;
}

/* Each borough's race/ethnicity mix: people per group, summed over its neighbourhoods (NTAs). */
static civ_status load_ethnicity(const char *dir, double share[CIV_NBOROUGH][CIV_N_ETHNICITY], civ_error *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/nyc_nta_ethnicity.csv", dir);
    civ_csv csv;
    civ_status st = civ_csv_read(path, &csv, err);
    if (st) return st;
    int cb, ce, cn;
    if ((st = civ_csv_col(&csv, "borough", &cb, err)) || (st = civ_csv_col(&csv, "ethnicity", &ce, err)) ||
        (st = civ_csv_col(&csv, "count", &cn, err))) goto out;
    memset(share, 0, sizeof(double) * CIV_NBOROUGH * CIV_N_ETHNICITY);
    for (int r = 0; r < csv.nrows; r++) {
        const int b = civ_borough_index(csv.cells[r][cb]), g = civ_ethnicity_index(csv.cells[r][ce]);
        if (b < 0 || g < 0) {
            char groups[96] = "";
            for (int k = 0; k < CIV_N_ETHNICITY; k++)
                snprintf(groups + strlen(groups), sizeof groups - strlen(groups), "%s%s", k ? ", " : "", civ_ethnicity_name[k]);
            st = civ_fail(err, CIV_ERR_INPUT, "%s: row %d: unknown %s '%s' (expected %s)", path, r + 2,
                          b < 0 ? "borough" : "ethnicity", b < 0 ? csv.cells[r][cb] : csv.cells[r][ce],
                          b < 0 ? "BX, BK, MN, QN or SI" : groups);
            goto out;
        }
        double v;
        if ((st = civ_csv_number(&csv, r, cn, 0, &v, err))) goto out;
        share[b][g] += v;
    }
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        double total = 0;
        for (int g = 0; g < CIV_N_ETHNICITY; g++) total += share[b][g];
        if (total <= 0) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: no people counted for borough %s", path, civ_borough_code[b]);
            goto out;
        }
        for (int g = 0; g < CIV_N_ETHNICITY; g++) share[b][g] /= total;
    }
out:
    civ_csv_free(&csv);
    return st;
}

/* Care homes per borough: the most nursing homes listed for it on any report date. */
static civ_status load_care_homes(const char *dir, double homes[CIV_NBOROUGH], civ_error *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/ny_ltc_deaths_in_facility_by_borough_ctp.csv", dir);
    civ_csv csv;
    civ_status st = civ_csv_read(path, &csv, err);
    if (st) return st;
    int cg, cc, cn;
    if ((st = civ_csv_col(&csv, "geo", &cg, err)) || (st = civ_csv_col(&csv, "facility_category", &cc, err)) ||
        (st = civ_csv_col(&csv, "n_facilities_listed", &cn, err))) goto out;
    for (int b = 0; b < CIV_NBOROUGH; b++) homes[b] = 0;
    for (int r = 0; r < csv.nrows; r++) {
        int b = civ_borough_index(csv.cells[r][cg]);
        if (b < 0 || strcmp(csv.cells[r][cc], "nursing_home") != 0) continue;
        double v;
        if ((st = civ_csv_number(&csv, r, cn, 0, &v, err))) goto out;
        if (v > homes[b]) homes[b] = v;
    }
out:
    civ_csv_free(&csv);
    return st;
}

/* Share of each borough's resident workers by the NYC borough they work in (ACS 2009-2013 county flows).
 * Residents who work outside the city are spread over the five boroughs in the same proportions:
 * commuters into the city from outside it are not agents (an assumption, see data/README.md). */
static civ_status load_commuting(const char *dir, double share[CIV_NBOROUGH][CIV_NBOROUGH], civ_error *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/nyc_commuting_county_flows_acs2009_2013.csv", dir);
    civ_csv csv;
    civ_status st = civ_csv_read(path, &csv, err);
    if (st) return st;
    int ch, cw, cn;
    if ((st = civ_csv_col(&csv, "home_borough", &ch, err)) || (st = civ_csv_col(&csv, "work_borough", &cw, err)) ||
        (st = civ_csv_col(&csv, "workers", &cn, err))) goto out;
    memset(share, 0, sizeof(double) * CIV_NBOROUGH * CIV_NBOROUGH);
    for (int r = 0; r < csv.nrows; r++) {
        int h = civ_borough_index(csv.cells[r][ch]), w = civ_borough_index(csv.cells[r][cw]);
        if (h < 0 || w < 0) continue;
        double v;
        if ((st = civ_csv_number(&csv, r, cn, 0, &v, err))) goto out;
        share[h][w] += v;
    }
    for (int h = 0; h < CIV_NBOROUGH; h++) {
        double tot = 0;
        for (int w = 0; w < CIV_NBOROUGH; w++) tot += share[h][w];
        if (tot <= 0) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: no workers living in %s and working in the city", path,
                          civ_borough_code[h]);
            goto out;
        }
        for (int w = 0; w < CIV_NBOROUGH; w++) share[h][w] /= tot;
    }
out:
    civ_csv_free(&csv);
    return st;
}

static int sample_cdf(const double *cdf, int n, double u)
{
    for (int k = 0; k < n; k++) if (u < cdf[k]) return k;
    return n - 1;
}

civ_status civ_synthesize(const civ_synth_options *opt, civ_population *pop, civ_error *err)
{
    memset(pop, 0, sizeof *pop);
    if (!(opt->scale > 0 && opt->scale <= 1))
        return civ_fail(err, CIV_ERR_USAGE, "scale must be in (0, 1], got %g", opt->scale);
    tract_data td = {0};
    civ_status st = load_tracts(opt->data_dir, &td, err);
    if (st) return st;
    double laus_lf[CIV_NBOROUGH], laus_emp[CIV_NBOROUGH], care_homes[CIV_NBOROUGH];
    double commute[CIV_NBOROUGH][CIV_NBOROUGH], ethnicity[CIV_NBOROUGH][CIV_N_ETHNICITY];
    if ((st = load_laus(opt->data_dir, opt->laus_year, opt->laus_month, laus_lf, laus_emp, err)) ||
        (st = load_ethnicity(opt->data_dir, ethnicity, err)) ||
        (st = load_care_homes(opt->data_dir, care_homes, err)) || (st = load_commuting(opt->data_dir, commute, err))) {
        free_tracts(&td);
        return st;
    }
    const uint64_t seed = opt->seed;

    /* 1. stochastic rounding of every tract x sex x age cell */
    uint32_t (*counts)[2][N_AGE_BINS] = civ_xcalloc((size_t)td.n, sizeof *counts);
    uint64_t total = 0;
    uint32_t max_tract = 0;
    double census_pop[CIV_NBOROUGH] = {0};
    for (int t = 0; t < td.n; t++) {
        uint32_t tract_total = 0;
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < N_AGE_BINS; k++) {
                double x = td.cells[t][s][k] * opt->scale;
                census_pop[td.borough[t]] += td.cells[t][s][k];
                uint32_t n = (uint32_t)x;
                if (civ_u01(draw(seed, (uint32_t)t, (uint32_t)(s * N_AGE_BINS + k), S_ROUND)) < (float)(x - n)) n++;
                counts[t][s][k] = n;
                tract_total += n;
            }
        /* a tract with children but no adult gets one adult (keeps every household plausible) */
        uint32_t adults = 0;
        for (int s = 0; s < 2; s++)
            for (int k = 4; k < N_AGE_BINS; k++) adults += counts[t][s][k];
        if (tract_total > 0 && adults == 0) {
            counts[t][draw(seed, (uint32_t)t, 0, S_FIX) & 1][6]++;
            tract_total++;
        }
        total += tract_total;
        if (tract_total > max_tract) max_tract = tract_total;
    }
    if (total == 0 || total > 0xFFFFFFF0u) {
        free(counts); free_tracts(&td);
        return civ_fail(err, CIV_ERR_USAGE, "scale %g gives %llu agents; nothing to simulate",
                        opt->scale, (unsigned long long)total);
    }

    pop->n_agents = (uint32_t)total;
    pop->n_tracts = (uint32_t)td.n;
    pop->scale = opt->scale;
    pop->seed = seed;
    snprintf(pop->employment_reference, sizeof pop->employment_reference, "%04u-%02u",
             (unsigned)opt->laus_year % 10000u, (unsigned)opt->laus_month % 100u);
    size_t n = pop->n_agents;
    pop->borough = civ_xmalloc(n); pop->sex = civ_xmalloc(n); pop->age = civ_xmalloc(n);
    pop->labour = civ_xcalloc(n, 1);
    pop->residence = civ_xcalloc(n, 1);
    pop->ethnicity = civ_xcalloc(n, 1);
    pop->tract = civ_xmalloc(n * sizeof(uint16_t));
    pop->household = civ_xmalloc(n * sizeof(uint32_t));
    pop->place = civ_xmalloc(n * sizeof(int32_t));
    pop->tract_geoid = civ_xcalloc((size_t)td.n, sizeof *pop->tract_geoid);
    pop->tract_borough = civ_xcalloc((size_t)td.n, 1);
    memcpy(pop->tract_geoid, td.geoid, (size_t)td.n * sizeof *td.geoid);
    memcpy(pop->tract_borough, td.borough, (size_t)td.n);

    /* city-wide household-size mix, for tracts that report no households (group quarters) */
    double city_hh[N_HH_SIZES] = {0};
    for (int t = 0; t < td.n; t++) for (int k = 0; k < N_HH_SIZES; k++) city_hh[k] += td.hh[t][k];

    /* care-home residents: each borough's homes x CARE_HOME_RESIDENTS x scale, spread over its people
       aged 45+ by the residents' age shares (a draw per person, below) */
    double care_pop[CIV_NBOROUGH][4] = {{0}}, p_care[CIV_NBOROUGH][4] = {{0}};
    for (int t = 0; t < td.n; t++)
        for (int k = 9; k < N_AGE_BINS; k++)
            care_pop[td.borough[t]][care_age_group(5 * k)] += counts[t][0][k] + counts[t][1][k];
    for (int b = 0; b < CIV_NBOROUGH; b++)
        for (int g = 0; g < 4; g++)
            if (care_pop[b][g] > 0) {
                double p = care_homes[b] * CARE_HOME_RESIDENTS * opt->scale * care_age_share[g] / care_pop[b][g];
                p_care[b][g] = p < 0.5 ? p : 0.5;
            }

    /* 2. households, tract by tract; care-home residents live alone (a household of one each) */
    uint8_t *t_age = civ_xmalloc(max_tract), *t_sex = civ_xmalloc(max_tract);
    uint32_t *adults = civ_xmalloc(max_tract * sizeof(uint32_t));
    uint32_t *children = civ_xmalloc(max_tract * sizeof(uint32_t));
    uint32_t *residents = civ_xmalloc(max_tract * sizeof(uint32_t));
    uint32_t *hh_size = civ_xmalloc(max_tract * sizeof(uint32_t));
    uint32_t *slots = civ_xmalloc(max_tract * sizeof(uint32_t));
    uint32_t *member_hh = civ_xmalloc(max_tract * sizeof(uint32_t));
    uint32_t *hh_fill = civ_xmalloc(max_tract * sizeof(uint32_t));
    uint32_t *hh_off = civ_xmalloc((max_tract + 1) * sizeof(uint32_t));
    uint32_t next_agent = 0, next_hh = 0;
    for (int t = 0; t < td.n && !civ_interrupted; t++) {   /* Ctrl-C: stop within a tract */
        uint32_t np = 0;
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < N_AGE_BINS; k++)
                for (uint32_t i = 0; i < counts[t][s][k]; i++) {
                    int width = k == N_AGE_BINS - 1 ? 11 : 5;   /* 85+ spread over 85-95 */
                    t_age[np] = (uint8_t)(5 * k + (int)bounded(draw(seed, (uint32_t)t, np, S_AGE), (uint32_t)width));
                    t_sex[np] = (uint8_t)s;
                    np++;
                }
        if (np == 0) continue;
        uint32_t na = 0, nc = 0, nr = 0;
        for (uint32_t i = 0; i < np; i++) {
            const int g = care_age_group(t_age[i]);
            if (g >= 0 && civ_u01(draw(seed, (uint32_t)t, i, S_CARE_HOME)) < (float)p_care[td.borough[t]][g])
                residents[nr++] = i;
            else if (t_age[i] >= ADULT_AGE) adults[na++] = i;
            else children[nc++] = i;
        }
        if (na == 0 && nr > 0) adults[na++] = residents[--nr];   /* households need an adult */
        const uint32_t np_hh = np - nr;
        shuffle_u32(adults, na, seed, (uint32_t)t, S_SHUFFLE_ADULT);
        shuffle_u32(children, nc, seed, (uint32_t)t, S_SHUFFLE_CHILD);

        const double *mix = td.hh[t];
        double msum = 0;
        for (int k = 0; k < N_HH_SIZES; k++) msum += mix[k];
        if (msum <= 0) { mix = city_hh; msum = 0; for (int k = 0; k < N_HH_SIZES; k++) msum += mix[k]; }
        double cdf[N_HH_SIZES], acc = 0;
        for (int k = 0; k < N_HH_SIZES; k++) { acc += mix[k] / msum; cdf[k] = acc; }

        /* draw sizes until everyone has a place; the last one takes the remainder */
        uint32_t nh = 0, placed = 0;
        while (placed < np_hh) {
            int k = sample_cdf(cdf, N_HH_SIZES, civ_u01(draw(seed, (uint32_t)t, nh, S_HHSIZE)));
            uint32_t size = k < 6 ? (uint32_t)k + 1 : 7 + bounded(draw(seed, (uint32_t)t, nh, S_MERGE), 3);
            if (size > np_hh - placed) size = np_hh - placed;
            hh_size[nh++] = size;
            placed += size;
        }
        /* at most one household per adult: fold the extra households into others */
        while (nh > na) {
            uint32_t extra = hh_size[--nh];
            hh_size[bounded(draw(seed, (uint32_t)t, nh, S_MERGE + 100), nh)] += extra;
        }
        /* heads first, then children into random free slots, then other adults */
        uint32_t ns = 0;
        for (uint32_t h = 0; h < nh; h++) {
            member_hh[adults[h]] = h;
            for (uint32_t j = 1; j < hh_size[h]; j++) slots[ns++] = h;
        }
        shuffle_u32(slots, ns, seed, (uint32_t)t, S_SLOTS);
        uint32_t si = 0;
        for (uint32_t i = 0; i < nc; i++) member_hh[children[i]] = slots[si++];
        for (uint32_t i = nh; i < na; i++) member_hh[adults[i]] = slots[si++];
        /* write agents grouped by household: head first */
        hh_off[0] = 0;
        for (uint32_t h = 0; h < nh; h++) { hh_off[h + 1] = hh_off[h] + hh_size[h]; hh_fill[h] = 0; }
        for (uint32_t h = 0; h < nh; h++) {
            uint32_t i = adults[h];
            uint32_t dst = next_agent + hh_off[h] + hh_fill[h]++;
            pop->age[dst] = t_age[i]; pop->sex[dst] = t_sex[i];
        }
        for (uint32_t k = 0; k < nc; k++) {
            const uint32_t i = children[k], h = member_hh[i];
            uint32_t dst = next_agent + hh_off[h] + hh_fill[h]++;
            pop->age[dst] = t_age[i]; pop->sex[dst] = t_sex[i];
        }
        for (uint32_t k = nh; k < na; k++) {   /* adults other than the heads */
            const uint32_t i = adults[k], h = member_hh[i];
            uint32_t dst = next_agent + hh_off[h] + hh_fill[h]++;
            pop->age[dst] = t_age[i]; pop->sex[dst] = t_sex[i];
        }
        for (uint32_t h = 0; h < nh; h++)
            for (uint32_t j = 0; j < hh_size[h]; j++) pop->household[next_agent + hh_off[h] + j] = next_hh + h;
        for (uint32_t k = 0; k < nr; k++) {   /* residents after the households, one household each */
            const uint32_t dst = next_agent + np_hh + k;
            pop->age[dst] = t_age[residents[k]]; pop->sex[dst] = t_sex[residents[k]];
            pop->household[dst] = next_hh + nh + k;
            pop->residence[dst] = CIV_RES_CARE_HOME;
        }
        for (uint32_t j = 0; j < np; j++) {
            pop->tract[next_agent + j] = (uint16_t)t;
            pop->borough[next_agent + j] = td.borough[t];
        }
        next_agent += np;
        next_hh += nh + nr;
    }
    pop->n_households = next_hh;
    free(t_age); free(t_sex); free(adults); free(children); free(residents); free(hh_size); free(slots);
    free(member_hh); free(hh_fill); free(hh_off); free(counts);
    if (civ_interrupted) {
        free_tracts(&td);
        civ_population_free(pop);
        return civ_fail(err, CIV_ERR_INTERRUPTED, "population synthesis interrupted");
    }

    /* 2b. race/ethnicity: one group per household (members share it), from the borough's mix; the tract
       data carry no race, so within a borough it is independent of tract and household size */
    for (uint32_t i = 0; i < pop->n_agents; i++) {
        const uint32_t h = pop->household[i];
        if (i > 0 && pop->household[i - 1] == h) { pop->ethnicity[i] = pop->ethnicity[i - 1]; continue; }
        const double u = civ_u01(draw(seed, h, 0, S_ETHNICITY));
        double acc = 0;
        int g = CIV_N_ETHNICITY - 1;
        for (int k = 0; k < CIV_N_ETHNICITY; k++) {
            acc += ethnicity[pop->borough[i]][k];
            if (u < acc) { g = k; break; }
        }
        pop->ethnicity[i] = (uint8_t)g;
    }

    /* 3. labour force: participation shape by age, level from LAUS per borough */
    double wsum[CIV_NBOROUGH] = {0}, synth_pop[CIV_NBOROUGH] = {0};
    for (uint32_t i = 0; i < pop->n_agents; i++) {
        if (pop->residence[i] == CIV_RES_HOUSEHOLD) wsum[pop->borough[i]] += participation(pop->age[i]);
        synth_pop[pop->borough[i]] += 1;
    }
    double lf_factor[CIV_NBOROUGH], unemp_rate[CIV_NBOROUGH];
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        double target = laus_lf[b] * synth_pop[b] / census_pop[b];
        lf_factor[b] = wsum[b] > 0 ? target / wsum[b] : 0;
        unemp_rate[b] = laus_lf[b] > 0 ? 1.0 - laus_emp[b] / laus_lf[b] : 0;
    }
    for (uint32_t i = 0; i < pop->n_agents; i++) {
        if (pop->residence[i] != CIV_RES_HOUSEHOLD) continue;
        int b = pop->borough[i];
        double p = participation(pop->age[i]) * lf_factor[b];
        if (p > 0.98) p = 0.98;
        civ_u32x4 r = civ_philox4x32_10((civ_u32x4){{i, 0, CIV_RNG_SYNTH, S_LABOUR}},
                                        (uint32_t)seed, (uint32_t)(seed >> 32));
        if (civ_u01(r.v[0]) < (float)p)
            pop->labour[i] = civ_u01(r.v[1]) < (float)unemp_rate[b] ? CIV_UNEMPLOYED : CIV_EMPLOYED;
    }

    /* 4. schools: children of a borough and level, in tract order, split evenly */
    uint32_t nchild[CIV_NBOROUGH][3] = {{0}}, nschool[CIV_NBOROUGH][3], first_school[CIV_NBOROUGH][3];
    for (uint32_t i = 0; i < pop->n_agents; i++) {
        int l = school_level(pop->age[i]);
        if (l >= 0) nchild[pop->borough[i]][l]++;
    }
    uint32_t n_schools = 0;
    for (int b = 0; b < CIV_NBOROUGH; b++)
        for (int l = 0; l < 3; l++) {
            uint32_t k = (uint32_t)llround(nchild[b][l] / school_size[l]);
            nschool[b][l] = nchild[b][l] ? (k ? k : 1) : 0;
            first_school[b][l] = n_schools;
            n_schools += nschool[b][l];
        }
    uint32_t seen[CIV_NBOROUGH][3] = {{0}};
    for (uint32_t i = 0; i < pop->n_agents; i++) {
        int l = school_level(pop->age[i]), b = pop->borough[i];
        if (l < 0) { pop->place[i] = CIV_NO_PLACE; continue; }
        uint64_t k = seen[b][l]++;
        pop->place[i] = (int32_t)(first_school[b][l] + (uint32_t)(k * nschool[b][l] / nchild[b][l]));
    }

    /* 5. care homes: a borough's residents, in tract order, split evenly over its homes */
    uint32_t n_residents[CIV_NBOROUGH] = {0}, n_homes[CIV_NBOROUGH], first_home[CIV_NBOROUGH];
    for (uint32_t i = 0; i < pop->n_agents; i++) n_residents[pop->borough[i]] += pop->residence[i] == CIV_RES_CARE_HOME;
    uint32_t place_id = n_schools;
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        uint32_t k = (uint32_t)llround(care_homes[b] * opt->scale);
        n_homes[b] = n_residents[b] ? (k < 1 ? 1 : k > n_residents[b] ? n_residents[b] : k) : 0;
        first_home[b] = place_id;
        place_id += n_homes[b];
    }
    uint32_t res_seen[CIV_NBOROUGH] = {0};
    for (uint32_t i = 0; i < pop->n_agents; i++) {
        if (pop->residence[i] != CIV_RES_CARE_HOME) continue;
        const int b = pop->borough[i];
        const uint64_t k = res_seen[b]++;
        pop->place[i] = (int32_t)(first_home[b] + (uint32_t)(k * n_homes[b] / n_residents[b]));
    }

    /* 6. work: each worker's work borough from the commuting shares; in each work borough, the workers
       (shuffled) staff its care homes first, then are cut into workplaces of drawn sizes */
    double ccdf[CIV_NBOROUGH][CIV_NBOROUGH];
    for (int h = 0; h < CIV_NBOROUGH; h++) {
        double acc = 0;
        for (int w = 0; w < CIV_NBOROUGH; w++) { acc += commute[h][w]; ccdf[h][w] = acc; }
    }
    uint8_t *work_borough = civ_xmalloc(n ? n : 1);
    for (uint32_t i = 0; i < pop->n_agents; i++)
        work_borough[i] = (uint8_t)sample_cdf(ccdf[pop->borough[i]], CIV_NBOROUGH, civ_u01(draw(seed, i, 0, S_COMMUTE)));
    double band_w[N_WORK_BANDS], wcdf[N_WORK_BANDS], wtot = 0;
    for (int k = 0; k < N_WORK_BANDS; k++) {
        band_w[k] = work_band_share[k] / (0.5 * (work_band_lo[k] + work_band_hi[k]));
        wtot += band_w[k];
    }
    double wacc = 0;
    for (int k = 0; k < N_WORK_BANDS; k++) { wacc += band_w[k] / wtot; wcdf[k] = wacc; }
    uint32_t *workers = civ_xmalloc(n * sizeof(uint32_t));
    const uint32_t first_work = place_id;
    uint8_t *pb = NULL;
    size_t pb_cap = 0;
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        uint32_t nw = 0;
        for (uint32_t i = 0; i < pop->n_agents; i++)
            /* school-age workers (16-17) keep their school as their place */
            if (work_borough[i] == b && pop->labour[i] == CIV_EMPLOYED && school_level(pop->age[i]) < 0)
                workers[nw++] = i;
        shuffle_u32(workers, nw, seed, (uint32_t)b, S_WORKSHUFFLE);
        uint32_t staff = (uint32_t)llround(CARE_HOME_STAFF_PER_RESIDENT * n_residents[b]);
        if (!n_homes[b]) staff = 0;
        if (staff > nw) staff = nw;
        for (uint32_t k = 0; k < staff; k++)
            pop->place[workers[k]] = (int32_t)(first_home[b] + (uint32_t)((uint64_t)k * n_homes[b] / staff));
        uint32_t w = staff;
        while (w < nw) {
            uint32_t key = place_id;
            int k = sample_cdf(wcdf, N_WORK_BANDS, civ_u01(draw(seed, key, 0, S_WORKSIZE)));
            uint32_t size = (uint32_t)work_band_lo[k] +
                bounded(draw(seed, key, 1, S_WORKSIZE), (uint32_t)(work_band_hi[k] - work_band_lo[k] + 1));
            if (size > nw - w) size = nw - w;
            for (uint32_t j = 0; j < size; j++) pop->place[workers[w + j]] = (int32_t)place_id;
            if (place_id - first_work >= pb_cap) {
                pb_cap = pb_cap ? 2 * pb_cap : 4096;
                pb = realloc(pb, pb_cap);
                if (!pb) abort();
            }
            pb[place_id - first_work] = (uint8_t)b;
            place_id++;
            w += size;
        }
    }
    free(workers);
    free(work_borough);
    pop->n_places = place_id;
    pop->place_type = civ_xmalloc(place_id ? place_id : 1);
    pop->place_borough = civ_xmalloc(place_id ? place_id : 1);
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        for (int l = 0; l < 3; l++)
            for (uint32_t s = 0; s < nschool[b][l]; s++) {
                pop->place_type[first_school[b][l] + s] = CIV_PLACE_SCHOOL;
                pop->place_borough[first_school[b][l] + s] = (uint8_t)b;
            }
        for (uint32_t h = 0; h < n_homes[b]; h++) {
            pop->place_type[first_home[b] + h] = CIV_PLACE_CARE_HOME;
            pop->place_borough[first_home[b] + h] = (uint8_t)b;
        }
    }
    for (uint32_t p = first_work; p < place_id; p++) {
        pop->place_type[p] = CIV_PLACE_WORK;
        pop->place_borough[p] = pb[p - first_work];
    }
    free(pb);
    free_tracts(&td);
    if (civ_interrupted) {
        civ_population_free(pop);
        return civ_fail(err, CIV_ERR_INTERRUPTED, "population synthesis interrupted");
    }
    civ_population_derive(pop);
    return CIV_OK;
}
