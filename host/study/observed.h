/* Observed NYC DOHMH daily series by borough over the simulated dates. */
#ifndef CIV_OBSERVED_H
#define CIV_OBSERVED_H

#include <stdint.h>

#include "host/util/error.h"
#include "host/population/population.h"

typedef struct {
    int steps;
    int32_t *cases;          /* [step][borough] confirmed + probable, by diagnosis date */
    int32_t *hospitalized;   /* [step][borough] by admission date */
    int32_t *deaths;         /* [step][borough] by date of death */
    int first_day, last_day; /* coverage of the file */
} civ_observed;

/* Fails (naming the file and dates) if any simulated date is outside the file. */
civ_status civ_observed_load(const char *path, int start_day, int steps, civ_observed *o, civ_error *err);
void civ_observed_free(civ_observed *o);

#endif
