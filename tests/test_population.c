/* Population synthesis: marginals against the census data at two scales,
 * household composition, race/ethnicity by borough, schools and workplaces, employment against LAUS,
 * determinism, and the HDF5 round trip with its input checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/util/csv.h"
#include "host/population/population.h"

#define DATA CIVITAS_SOURCE_DIR "/data"

static civ_population make(double scale, uint64_t seed)
{
    civ_synth_options o = {DATA, scale, seed, 2020, 2, true};
    civ_population p;
    civ_error err = {0};
    civ_status st = civ_synthesize(&o, &p, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, CIV_OK);
    return p;
}

/* borough x sex x 5-year age bin, from the data and from agents */
static void check_age_sex_marginals(double scale)
{
    civ_csv csv;
    civ_error err = {0};
    assert_int_equal(civ_csv_read(DATA "/nyc_tract_age_sex_acs.csv", &csv, &err), CIV_OK);
    double expect[CIV_NBOROUGH][2][18] = {{{0}}};
    int ntract[CIV_NBOROUGH] = {0}, cb;
    civ_csv_col(&csv, "borough", &cb, &err);
    double total = 0;
    for (int r = 0; r < csv.nrows; r++) {
        int b = civ_borough_index(csv.cells[r][cb]);
        ntract[b]++;
        for (int c = 0; c < csv.ncols; c++) {
            const char *h = csv.header[c];
            if ((h[0] != 'm' && h[0] != 'f') || h[1] != '_') continue;
            int lo = atoi(h + 2);
            double v;
            civ_csv_number(&csv, r, c, 0, &v, &err);
            expect[b][h[0] == 'm'][lo / 5 < 17 ? lo / 5 : 17] += v * scale;
            total += v * scale;
        }
    }
    civ_csv_free(&csv);
    civ_population p = make(scale, 3);
    double got[CIV_NBOROUGH][2][18] = {{{0}}};
    for (uint32_t i = 0; i < p.n_agents; i++) got[p.borough[i]][p.sex[i]][p.age[i] / 5 < 17 ? p.age[i] / 5 : 17]++;
    /* stochastic rounding: variance <= 1/4 per tract cell, so 5 sigma per borough cell */
    for (int b = 0; b < CIV_NBOROUGH; b++)
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < 18; k++) {
                double tol = 5 * sqrt(0.25 * ntract[b]) + 3;
                if (fabs(got[b][s][k] - expect[b][s][k]) > tol)
                    fail_msg("scale %g, borough %s sex %d age bin %d: %g agents, data %g (tol %g)", scale,
                             civ_borough_code[b], s, k, got[b][s][k], expect[b][s][k], tol);
            }
    assert_true(fabs(p.n_agents - total) < 5 * sqrt(0.25 * 2167 * 36) + 10);
    civ_population_free(&p);
}

static void test_marginals_small(void **s) { (void)s; check_age_sex_marginals(0.01); }
static void test_marginals_large(void **s) { (void)s; check_age_sex_marginals(0.2); }

static void test_households(void **state)
{
    (void)state;
    civ_population p = make(0.1, 5);
    /* agents of a household are contiguous and share tract; every household has an adult */
    uint8_t *has_adult = calloc(p.n_households, 1);
    uint32_t *first = malloc(p.n_households * sizeof(uint32_t));
    for (uint32_t h = 0; h < p.n_households; h++) first[h] = UINT32_MAX;
    for (uint32_t i = 0; i < p.n_agents; i++) {
        uint32_t h = p.household[i];
        if (p.age[i] >= 18) has_adult[h] = 1;
        if (first[h] == UINT32_MAX) first[h] = i;
        else assert_int_equal(p.tract[i], p.tract[first[h]]);
        if (i > 0 && p.household[i] != p.household[i - 1]) assert_int_equal(p.household[i], p.household[i - 1] + 1);
    }
    for (uint32_t h = 0; h < p.n_households; h++)
        if (!has_adult[h]) fail_msg("household %u has no adult", h);
    /* household size mix per borough against the ACS table */
    civ_csv csv;
    civ_error err = {0};
    assert_int_equal(civ_csv_read(DATA "/nyc_tract_household_size_acs.csv", &csv, &err), CIV_OK);
    double data[CIV_NBOROUGH][7] = {{0}}, dsum[CIV_NBOROUGH] = {0}, got[CIV_NBOROUGH][7] = {{0}}, gsum[CIV_NBOROUGH] = {0};
    int cb;
    civ_csv_col(&csv, "borough", &cb, &err);
    for (int r = 0; r < csv.nrows; r++) {
        int b = civ_borough_index(csv.cells[r][cb]);
        for (int k = 0; k < 7; k++) {
            char name[32];
            if (k < 6) snprintf(name, sizeof name, "hh_size_%d", k + 1); else snprintf(name, sizeof name, "hh_size_7plus");
            int c;
            double v;
            civ_csv_col(&csv, name, &c, &err);
            civ_csv_number(&csv, r, c, 0, &v, &err);
            data[b][k] += v;
            dsum[b] += v;
        }
    }
    civ_csv_free(&csv);
    for (uint32_t h = 0; h < p.n_households; h++) {
        uint32_t n = p.household_size[h];
        int b = p.borough[first[h]];
        got[b][n < 7 ? n - 1 : 6]++;
        gsum[b]++;
    }
    for (int b = 0; b < CIV_NBOROUGH; b++)
        for (int k = 0; k < 7; k++) {
            double d = data[b][k] / dsum[b], g = got[b][k] / gsum[b];
            if (fabs(d - g) > 0.02)
                fail_msg("borough %s household size %d: share %.3f, data %.3f", civ_borough_code[b], k + 1, g, d);
        }
    free(has_adult);
    free(first);
    civ_population_free(&p);
}

static void test_places_and_employment(void **state)
{
    (void)state;
    civ_population p = make(0.05, 9);
    uint64_t lf[CIV_NBOROUGH] = {0}, emp[CIV_NBOROUGH] = {0}, pop[CIV_NBOROUGH] = {0};
    for (uint32_t i = 0; i < p.n_agents; i++) {
        int b = p.borough[i];
        pop[b]++;
        if (p.labour[i]) lf[b]++;
        if (p.labour[i] == CIV_EMPLOYED) emp[b]++;
        int school_age = p.age[i] >= 5 && p.age[i] <= 17;
        if (school_age) {
            assert_true(p.place[i] >= 0);
            assert_int_equal(p.place_type[p.place[i]], CIV_PLACE_SCHOOL);
            assert_int_equal(p.place_borough[p.place[i]], b);   /* school within the borough */
        } else if (p.labour[i] == CIV_EMPLOYED) {   /* a workplace or a care home (staff), anywhere in the city */
            assert_true(p.place[i] >= 0);
            assert_true(p.place_type[p.place[i]] == CIV_PLACE_WORK || p.place_type[p.place[i]] == CIV_PLACE_CARE_HOME);
        } else if (p.residence[i] == CIV_RES_CARE_HOME) {
            assert_true(p.place[i] >= 0);
            assert_int_equal(p.place_type[p.place[i]], CIV_PLACE_CARE_HOME);
        } else {
            assert_int_equal(p.place[i], CIV_NO_PLACE);
        }
        if (p.age[i] < 16) assert_int_equal(p.labour[i], CIV_NOT_IN_LABOUR_FORCE);
    }
    /* labour force and unemployment per borough against LAUS February 2020 */
    civ_csv csv;
    civ_error err = {0};
    assert_int_equal(civ_csv_read(DATA "/nyc_laus_monthly_by_borough.csv", &csv, &err), CIV_OK);
    int cb, cy, cm, clf, cemp;
    civ_csv_col(&csv, "borough", &cb, &err); civ_csv_col(&csv, "year", &cy, &err); civ_csv_col(&csv, "month", &cm, &err);
    civ_csv_col(&csv, "labor_force", &clf, &err); civ_csv_col(&csv, "employed", &cemp, &err);
    double census[CIV_NBOROUGH] = {0};   /* tract file totals per borough */
    {
        civ_csv t;
        assert_int_equal(civ_csv_read(DATA "/nyc_tract_age_sex_acs.csv", &t, &err), CIV_OK);
        int tb, tt;
        civ_csv_col(&t, "borough", &tb, &err);
        civ_csv_col(&t, "total", &tt, &err);
        for (int r = 0; r < t.nrows; r++) {
            double v;
            civ_csv_number(&t, r, tt, 0, &v, &err);
            census[civ_borough_index(t.cells[r][tb])] += v;
        }
        civ_csv_free(&t);
    }
    for (int r = 0; r < csv.nrows; r++) {
        if (strcmp(csv.cells[r][cy], "2020") || strcmp(csv.cells[r][cm], "2")) continue;
        int b = civ_borough_index(csv.cells[r][cb]);
        double L, E;
        civ_csv_number(&csv, r, clf, 0, &L, &err);
        civ_csv_number(&csv, r, cemp, 0, &E, &err);
        double want_lf = L * pop[b] / census[b];
        if (fabs(lf[b] - want_lf) / want_lf > 0.03)
            fail_msg("%s labour force %llu, LAUS-scaled %.0f", civ_borough_code[b], (unsigned long long)lf[b], want_lf);
        double urate = 1 - (double)emp[b] / lf[b], want_u = 1 - E / L;
        if (fabs(urate - want_u) > 0.01) fail_msg("%s unemployment %.3f, LAUS %.3f", civ_borough_code[b], urate, want_u);
    }
    civ_csv_free(&csv);
    civ_population_free(&p);
}

/* Work boroughs follow the ACS commuting flows (shares among the five boroughs, within 5 binomial sd);
 * care homes: the number of residents per borough is its homes x 250 x scale (the draw's 5 sd), aged 45+,
 * alone in their household, in a home of their borough, outside the labour force; one staff member per
 * resident among the workers of the home's borough. */
static void test_commuting_and_care_homes(void **state)
{
    (void)state;
    const double scale = 0.05;
    civ_population p = make(scale, 11);
    double flow[CIV_NBOROUGH][CIV_NBOROUGH] = {{0}}, homes[CIV_NBOROUGH] = {0};
    civ_csv csv;
    civ_error err = {0};
    assert_int_equal(civ_csv_read(DATA "/nyc_commuting_county_flows_acs2009_2013.csv", &csv, &err), CIV_OK);
    int ch, cw, cn;
    civ_csv_col(&csv, "home_borough", &ch, &err); civ_csv_col(&csv, "work_borough", &cw, &err);
    civ_csv_col(&csv, "workers", &cn, &err);
    for (int r = 0; r < csv.nrows; r++) {
        int h = civ_borough_index(csv.cells[r][ch]), w = civ_borough_index(csv.cells[r][cw]);
        double v;
        civ_csv_number(&csv, r, cn, 0, &v, &err);
        if (h >= 0 && w >= 0) flow[h][w] += v;
    }
    civ_csv_free(&csv);
    assert_int_equal(civ_csv_read(DATA "/ny_ltc_deaths_in_facility_by_borough_ctp.csv", &csv, &err), CIV_OK);
    int cg, cc, cf;
    civ_csv_col(&csv, "geo", &cg, &err); civ_csv_col(&csv, "facility_category", &cc, &err);
    civ_csv_col(&csv, "n_facilities_listed", &cf, &err);
    for (int r = 0; r < csv.nrows; r++) {
        int b = civ_borough_index(csv.cells[r][cg]);
        double v;
        civ_csv_number(&csv, r, cf, 0, &v, &err);
        if (b >= 0 && !strcmp(csv.cells[r][cc], "nursing_home") && v > homes[b]) homes[b] = v;
    }
    civ_csv_free(&csv);

    double works[CIV_NBOROUGH][CIV_NBOROUGH] = {{0}}, residents[CIV_NBOROUGH] = {0}, staff[CIV_NBOROUGH] = {0};
    for (uint32_t i = 0; i < p.n_agents; i++) {
        const int b = p.borough[i], pl = p.place[i];
        if (p.residence[i] == CIV_RES_CARE_HOME) {
            residents[b]++;
            assert_true(p.age[i] >= 45);
            assert_int_equal(p.household_size[p.household[i]], 1);
            assert_int_equal(p.place_type[pl], CIV_PLACE_CARE_HOME);
            assert_int_equal(p.place_borough[pl], b);
            assert_int_equal(p.labour[i], CIV_NOT_IN_LABOUR_FORCE);
        } else if (pl >= 0 && p.place_type[pl] == CIV_PLACE_CARE_HOME) {
            staff[p.place_borough[pl]]++;
            assert_int_equal(p.labour[i], CIV_EMPLOYED);
        } else if (pl >= 0 && p.place_type[pl] == CIV_PLACE_WORK) {
            works[b][p.place_borough[pl]]++;
        }
    }
    for (int b = 0; b < CIV_NBOROUGH; b++) {
        const double want = homes[b] * 250 * scale;
        printf("%s: %.0f residents (expected %.0f), %.0f staff\n", civ_borough_code[b], residents[b], want, staff[b]);
        assert_true(fabs(residents[b] - want) < 5 * sqrt(want));
        assert_true(fabs(staff[b] - residents[b]) <= 1);
        double n = 0, tot = 0;
        for (int w = 0; w < CIV_NBOROUGH; w++) { n += works[b][w]; tot += flow[b][w]; }
        for (int w = 0; w < CIV_NBOROUGH; w++) {
            const double share = flow[b][w] / tot;
            /* care-home staff are taken from the work-borough pools, so allow for them too */
            const double tol = 5 * sqrt(share * (1 - share) / n) + staff[w] / n;
            if (fabs(works[b][w] / n - share) > tol)
                fail_msg("%s -> %s: %.4f of workers, ACS %.4f (tolerance %.4f)", civ_borough_code[b],
                         civ_borough_code[w], works[b][w] / n, share, tol);
        }
    }
    civ_population_free(&p);
}

/* Race/ethnicity: one group per household, each borough's mix as the neighbourhood table's (people summed
 * over the borough's NTAs); households are drawn independently, so the tolerance is 5 sd of a household
 * draw with the borough's mean household size (a household of k people moves k agents at once). */
static void test_ethnicity_by_borough(void **state)
{
    (void)state;
    civ_population p = make(0.05, 5);
    civ_csv csv;
    civ_error err = {0};
    assert_int_equal(civ_csv_read(DATA "/nyc_nta_ethnicity.csv", &csv, &err), CIV_OK);
    int cb, ce, cn;
    civ_csv_col(&csv, "borough", &cb, &err); civ_csv_col(&csv, "ethnicity", &ce, &err);
    civ_csv_col(&csv, "count", &cn, &err);
    double want[CIV_NBOROUGH][CIV_N_ETHNICITY] = {{0}}, total[CIV_NBOROUGH] = {0};
    for (int r = 0; r < csv.nrows; r++) {
        const int b = civ_borough_index(csv.cells[r][cb]), g = civ_ethnicity_index(csv.cells[r][ce]);
        assert_true(b >= 0 && g >= 0);
        double v;
        civ_csv_number(&csv, r, cn, 0, &v, &err);
        want[b][g] += v;
        total[b] += v;
    }
    civ_csv_free(&csv);
    double got[CIV_NBOROUGH][CIV_N_ETHNICITY] = {{0}}, people[CIV_NBOROUGH] = {0}, households[CIV_NBOROUGH] = {0};
    for (uint32_t i = 0; i < p.n_agents; i++) {
        assert_true(p.ethnicity[i] < CIV_N_ETHNICITY);
        if (i > 0 && p.household[i] == p.household[i - 1]) {
            if (p.ethnicity[i] != p.ethnicity[i - 1])
                fail_msg("agent %u: household %u has members of two groups", i, p.household[i]);
        } else {
            households[p.borough[i]]++;
        }
        got[p.borough[i]][p.ethnicity[i]]++;
        people[p.borough[i]]++;
    }
    for (int b = 0; b < CIV_NBOROUGH; b++)
        for (int g = 0; g < CIV_N_ETHNICITY; g++) {
            const double share = want[b][g] / total[b], size = people[b] / households[b];
            const double tol = 5 * size * sqrt(share * (1 - share) / households[b]) + 1e-9;
            if (fabs(got[b][g] / people[b] - share) > tol)
                fail_msg("%s, %s: %.4f of agents, data %.4f (tolerance %.4f)", civ_borough_code[b],
                         civ_ethnicity_name[g], got[b][g] / people[b], share, tol);
        }
    /* the groups differ between boroughs as the data say: the Bronx mostly Hispanic, Staten Island mostly white */
    assert_true(got[CIV_BX][CIV_ETH_HISPANIC] / people[CIV_BX] > 0.5);
    assert_true(got[CIV_SI][CIV_ETH_WHITE] / people[CIV_SI] > 0.55);
    civ_population_free(&p);
}

static void test_deterministic(void **state)
{
    (void)state;
    civ_population a = make(0.02, 11), b = make(0.02, 11), c = make(0.02, 12);
    assert_int_equal(a.n_agents, b.n_agents);
    assert_int_equal(a.n_households, b.n_households);
    assert_memory_equal(a.age, b.age, a.n_agents);
    assert_memory_equal(a.household, b.household, a.n_agents * 4);
    assert_memory_equal(a.place, b.place, a.n_agents * 4);
    assert_memory_equal(a.labour, b.labour, a.n_agents);
    assert_memory_equal(a.ethnicity, b.ethnicity, a.n_agents);
    assert_true(a.n_agents != c.n_agents || memcmp(a.age, c.age, a.n_agents) != 0);
    civ_population_free(&a);
    civ_population_free(&b);
    civ_population_free(&c);
}

static void test_save_load(void **state)
{
    (void)state;
    civ_population a = make(0.01, 4), b;
    char path[] = "/tmp/civitas_test_pop_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    civ_error err = {0};
    assert_int_equal(civ_population_save(&a, path, &err), CIV_OK);
    assert_int_equal(civ_population_load(path, &b, &err), CIV_OK);
    assert_int_equal(a.n_agents, b.n_agents);
    assert_int_equal(a.n_households, b.n_households);
    assert_int_equal(a.n_places, b.n_places);
    assert_memory_equal(a.borough, b.borough, a.n_agents);
    assert_memory_equal(a.sex, b.sex, a.n_agents);
    assert_memory_equal(a.age, b.age, a.n_agents);
    assert_memory_equal(a.ethnicity, b.ethnicity, a.n_agents);
    assert_memory_equal(a.residence, b.residence, a.n_agents);
    assert_memory_equal(a.tract, b.tract, a.n_agents * 2);
    assert_memory_equal(a.household, b.household, a.n_agents * 4);
    assert_memory_equal(a.place, b.place, a.n_agents * 4);
    assert_memory_equal(a.place_type, b.place_type, a.n_places);
    assert_memory_equal(a.household_size, b.household_size, a.n_households * 4);
    assert_string_equal(a.tract_geoid[100], b.tract_geoid[100]);
    civ_population_free(&b);

    /* an out-of-range index is reported with the file and dataset, not used */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "agents/household", H5P_DEFAULT);
    uint32_t *hh = malloc(a.n_agents * 4);
    memcpy(hh, a.household, a.n_agents * 4);
    hh[17] = a.n_households + 5;
    H5Dwrite(ds, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, hh);
    H5Dclose(ds);
    H5Fclose(f);
    free(hh);
    civ_error e2 = {0};
    assert_int_equal(civ_population_load(path, &b, &e2), CIV_ERR_INPUT);
    assert_non_null(strstr(e2.msg, "agents/household"));
    assert_non_null(strstr(e2.msg, path));

    /* a file that is not HDF5 */
    FILE *t = fopen(path, "w");
    fputs("not a population\n", t);
    fclose(t);
    civ_error e3 = {0};
    assert_int_equal(civ_population_load(path, &b, &e3), CIV_ERR_INPUT);
    assert_non_null(strstr(e3.msg, "not an HDF5 file"));
    unlink(path);
    civ_population_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marginals_small),
        cmocka_unit_test(test_marginals_large),
        cmocka_unit_test(test_households),
        cmocka_unit_test(test_places_and_employment),
        cmocka_unit_test(test_commuting_and_care_homes),
        cmocka_unit_test(test_ethnicity_by_borough),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
