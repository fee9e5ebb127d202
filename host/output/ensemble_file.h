/* Ensemble files (written by host/workflows/ensemble.c) read back for `info`, `plot` and `report`: the
 * studies in order (the first is the base, the others its counterfactuals), each run's study, seed and
 * posterior draw, the population scales, the base study's observed series, and any variable per run
 * and area in real-city units. */
#ifndef CIV_ENSEMBLE_FILE_H
#define CIV_ENSEMBLE_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "host/util/error.h"

/* 2: summaries shaped [date][borough][age_band] with their own dimension scales, study, seed and
 * population_scale as run coordinates, the base study's /observed series */
#define CIV_ENSEMBLE_SCHEMA "civitas-ensemble/2"

/* areas of every per-area array: 0 the city, 1 + borough */
#define CIV_N_AREAS 6

typedef struct {
    char *path;
    int n_studies, seeds, n_runs, steps, start_day;
    char **study;            /* [n_studies]; run r belongs to study r / seeds */
    bool *scenario;          /* [n_studies]: the study says "scenario": true */
    double *scale;           /* [n_studies] population scale */
    int64_t *seed;           /* [n_runs] */
    int32_t *posterior_set;  /* [n_runs], -1 without a draw; NULL when no study has a posterior */
    char **config;           /* [n_studies] resolved study and model (JSON) */
    int32_t *observed[3];    /* cases, hospitalized, deaths [t][borough], real counts; NULL when absent */
} civ_ens;

/* Opens and checks an ensemble file; errors name the file and what is wrong. */
civ_status civ_ens_open(const char *path, civ_ens *e, civ_error *err);
void civ_ens_free(civ_ens *e);
/* True when the file at path says it is an ensemble file (any version). */
bool civ_is_ensemble_file(const char *path);

/* /runs/<var> summed over age bands, in real-city units (divided by the run's study's scale):
 * out[(run * steps + t) * CIV_N_AREAS + area] (malloc'd). */
civ_status civ_ens_series(const civ_ens *e, const char *var, double **out, civ_error *err);

/* The age bands of /runs: lower edges (the last band is open), from the age_band labels ("0-17", "75+"). */
civ_status civ_ens_bands(const civ_ens *e, int *edges, int *n_bands, civ_error *err);
/* /runs/<var> per borough and age band, raw sample counts (for shares and rates, where the scale cancels):
 * out[((run * steps + t) * CIV_NBOROUGH + borough) * n_bands + band] (malloc'd). */
civ_status civ_ens_series_bands(const civ_ens *e, const char *var, double **out, int *n_bands, civ_error *err);

/* The first held-out day as a day index: `option` (YYYY-MM-DD) when given, else the base study's
 * calibration.held_out_from, else 2020-06-01 (the shipped New York studies' held-out start); -1 when
 * that day is not inside the simulated dates (and not given by the option). A bad option is an error.
 * *source (if not NULL) says where the day came from, for a sentence. */
civ_status civ_holdout_day(const char *option, const char *base_config_json, int start_day, int steps, int *day,
                           const char **source, civ_error *err);

/* A date option (--from, --to) as a day index inside [0, steps); `dflt` when option is NULL. */
civ_status civ_date_option(const char *name, const char *option, int start_day, int steps, int dflt, int *day,
                           civ_error *err);

#endif
