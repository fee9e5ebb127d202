/* `civitas info`: summarises population, run and ensemble files; readers of run files. */
#ifndef CIV_INFO_H
#define CIV_INFO_H

#include <stdio.h>

#include "host/util/error.h"

civ_status civ_info(const char *path, FILE *out, civ_error *err);
/* The ensemble part of `civitas info` (ensemble_info.c). */
civ_status civ_info_ensemble(const char *path, FILE *out, civ_error *err);

/* Largest count per day and borough the readers accept: the city total of five stays an int. A larger
 * value means a damaged file (NYC has 8.4 million people). */
#define CIV_MAX_DAILY_COUNT 400000000

/* Reads /timeseries/<var> summed over age bands into out[step][borough] (malloc'd). */
civ_status civ_read_borough_series(const char *path, const char *var, int **out, int *steps, civ_error *err);

/* Reads /observed/<name> (cases, hospitalized, deaths) for the first `steps` days into out[step][borough]. */
civ_status civ_read_observed(const char *path, const char *name, int steps, int **out, civ_error *err);

#endif
