/* Daily series a study reads from data files instead of setting them by hand:
 *   mobility -> how much of their usual community contact (and, for non-essential workers, of their
 *               days at work) people kept, per borough and day, from the Descartes Labs m50 index
 *   testing  -> how many tests the city could run each day (DOHMH's daily molecular tests), and how
 *               they were shared between boroughs (DOHMH's people tested negative by borough)
 * Each is read once at load for the simulated days. */
#ifndef CIV_DAILY_INPUTS_H
#define CIV_DAILY_INPUTS_H

#include <stdbool.h>

#include "host/core/boroughs.h"
#include "host/util/error.h"

/* factor(t, b) = floor + (1 - floor) x min(1, index(t', b) / 100)^shape, the index a centred mean over
 * smooth_days days (each day clamped to 0..100 % first); t' = t - shift_days up to shift_until, t after
 * (a counterfactual moves the behaviour that came with an order together with the order). With by_borough
 * false every borough takes the city's index, the boroughs' mean weighted by the devices sampled. */
typedef struct {
    char *file;                 /* NULL: not used */
    double floor, shape;
    int smooth_days;
    bool work;                  /* non-essential workers go to work with the same factor */
    bool by_borough;            /* each borough its own index; false: the city's (device-weighted mean) */
    int shift_days, shift_until;   /* simulation days */
    /* older adults (age >= older_adult_age) cut their community contacts by a further older_adult_extra of
     * the cut everyone made: kept = factor x (1 - older_adult_extra x (1 - factor)); 0 = no difference */
    double older_adult_extra;
    int older_adult_age;
    float (*factor)[CIV_NBOROUGH];  /* [step][borough] */
} civ_mobility;

/* Reads `m->file` for days start_day .. start_day + steps - 1 (days beyond the file use its nearest
 * day); `field` names the study field for messages. */
civ_status civ_mobility_load(civ_mobility *m, int start_day, int steps, const char *study_file, const char *field,
                             civ_error *err);

/* The city's molecular tests per day (real-city units) for the simulated days: 0 before the file's
 * first day, its last day's value after the last. */
typedef struct {
    char *file;                 /* NULL: not used (capacity_per_100k applies) */
    double *tests;              /* [step] */
} civ_test_capacity;

civ_status civ_test_capacity_load(civ_test_capacity *c, int start_day, int steps, const char *study_file,
                                  const char *field, civ_error *err);

/* Access to testing by borough. share[t][b] is borough b's share of the city's people tested negative
 * (by borough of residence) over the days t - window_days/2 .. t + window_days/2, from cumulative
 * snapshots (cum_people_tested - cum_people_positive per borough, linear between snapshot days). People
 * without COVID-19 are who test negative, so the share measures how readily each borough's residents were
 * tested, whatever their infections. The engine divides it by the borough's share of residents: access 1
 * is the city's rate per resident. A window reaching before the first snapshot counts everything up to
 * it (the file does not say when before it the tests were taken); one reaching past the last snapshot is
 * moved back to end there. */
typedef struct {
    char *file;                 /* NULL: not used (every borough the city's access) */
    int window_days;
    float (*share)[CIV_NBOROUGH];  /* [step][borough], summing to 1 over boroughs */
} civ_test_access;

civ_status civ_test_access_load(civ_test_access *a, int start_day, int steps, const char *study_file,
                                const char *field, civ_error *err);

void civ_mobility_free(civ_mobility *m);
void civ_test_capacity_free(civ_test_capacity *c);
void civ_test_access_free(civ_test_access *a);

#endif
