/* A synthetic population as struct-of-arrays. Agents are stored tract by
 * tract and, inside a tract, household by household, so household members
 * are contiguous. */
#ifndef CIV_POPULATION_H
#define CIV_POPULATION_H

#include <stdbool.h>
#include <stdint.h>

#include "host/core/boroughs.h"
#include "host/core/ethnicity.h"
#include "host/core/places.h"
#include "host/util/error.h"

extern const char *const civ_borough_code[CIV_NBOROUGH]; /* "BX", ... */
extern const char *const civ_borough_name[CIV_NBOROUGH]; /* "Bronx", ... */
extern const char *const civ_ethnicity_name[CIV_N_ETHNICITY]; /* "asian", ... as in the data file */
int civ_borough_index(const char *code);                 /* -1 if unknown */
int civ_ethnicity_index(const char *name);               /* -1 if unknown */

enum civ_labour { CIV_NOT_IN_LABOUR_FORCE = 0, CIV_EMPLOYED = 1, CIV_UNEMPLOYED = 2 };

#define CIV_NO_PLACE (-1)
#define CIV_MAX_AGENTS 0xFFFFFFF0u   /* agents in a population file (32-bit indices) */

typedef struct {
    uint32_t n_agents, n_tracts, n_households, n_places;
    double scale;
    uint64_t seed;
    char employment_reference[8];  /* LAUS month used, "YYYY-MM" */

    /* per agent */
    uint8_t *borough, *sex /* 0 female, 1 male */, *age /* years */, *labour;
    uint8_t *residence;        /* civ_residence_kind: care-home residents live alone in their household */
    uint8_t *ethnicity;        /* CIV_ETH_*: drawn per household from its borough's mix */
    uint16_t *tract;
    uint32_t *household;
    int32_t *place;            /* school, workplace or care home (residents and staff), CIV_NO_PLACE if none */

    /* per tract */
    char (*tract_geoid)[12];
    uint8_t *tract_borough;

    /* per place */
    uint8_t *place_type, *place_borough;

    /* derived on load/synthesis (not stored) */
    uint32_t *household_size, *place_size;
} civ_population;

typedef struct {
    const char *data_dir;
    double scale;          /* fraction of the real population, (0, 1] */
    uint64_t seed;
    int laus_year, laus_month; /* labour-force reference month */
    bool quiet;
} civ_synth_options;

civ_status civ_synthesize(const civ_synth_options *opt, civ_population *pop, civ_error *err);
civ_status civ_population_save(const civ_population *pop, const char *path, civ_error *err);
civ_status civ_population_load(const char *path, civ_population *pop, civ_error *err);
void civ_population_derive(civ_population *pop);
void civ_population_free(civ_population *pop);
size_t civ_population_bytes_per_agent(void);

#endif
