#include "host/population/population.h"

#include <stdlib.h>
#include <string.h>

const char *const civ_borough_code[CIV_NBOROUGH] = {"BX", "BK", "MN", "QN", "SI"};
const char *const civ_borough_name[CIV_NBOROUGH] = {"Bronx", "Brooklyn", "Manhattan",
                                                    "Queens", "Staten Island"};
const char *const civ_ethnicity_name[CIV_N_ETHNICITY] = {CIV_ETHNICITY_NAMES};

int civ_borough_index(const char *code)
{
    for (int b = 0; b < CIV_NBOROUGH; b++)
        if (strcmp(code, civ_borough_code[b]) == 0) return b;
    return -1;
}

int civ_ethnicity_index(const char *name)
{
    for (int g = 0; g < CIV_N_ETHNICITY; g++)
        if (strcmp(name, civ_ethnicity_name[g]) == 0) return g;
    return -1;
}

void civ_population_derive(civ_population *pop)
{
    free(pop->household_size);
    free(pop->place_size);
    pop->household_size = civ_xcalloc(pop->n_households, sizeof(uint32_t));
    pop->place_size = civ_xcalloc(pop->n_places, sizeof(uint32_t));
    for (uint32_t i = 0; i < pop->n_agents; i++) {
        pop->household_size[pop->household[i]]++;
        if (pop->place[i] != CIV_NO_PLACE) pop->place_size[pop->place[i]]++;
    }
}

size_t civ_population_bytes_per_agent(void)
{
    return 6 * sizeof(uint8_t) + sizeof(uint16_t) + sizeof(uint32_t) + sizeof(int32_t);
}

void civ_population_free(civ_population *pop)
{
    free(pop->borough); free(pop->sex); free(pop->age); free(pop->labour); free(pop->residence); free(pop->ethnicity);
    free(pop->tract); free(pop->household); free(pop->place);
    free(pop->tract_geoid); free(pop->tract_borough);
    free(pop->place_type); free(pop->place_borough);
    free(pop->household_size); free(pop->place_size);
    memset(pop, 0, sizeof *pop);
}
