/* A posterior sample written by civitas calibrate: weighted parameter sets, one column per JSON path
 * into the study (host/util/json_path.h) and a weight column. A study naming it in 'posterior' makes
 * every ensemble run draw one set: stratified weighted resampling (run k of N draws from the k-th N-th
 * of the cumulative weights) with a counter-based draw keyed by the study's seed and the run index, so
 * the ensemble holds each set about as often as its weight says, and a counterfactual based on the same
 * calibrated study (same seed, same number of runs) gets the same draw for the same run, and its
 * outcomes are paired with the base's. */
#ifndef CIV_POSTERIOR_H
#define CIV_POSTERIOR_H

#include <stdint.h>

#include "host/util/error.h"

typedef struct {
    int n_params, n;      /* parameter columns, weighted sets (rows) */
    char **paths;         /* [n_params] */
    double *values;       /* [set][param] */
    double *weights;      /* [set], normalised to sum 1 */
    double *cumulative;   /* [set]: running sum of the weights */
} civ_posterior;

/* Columns: 'particle' (optional), one per parameter path, 'weight', any of 'distance' (ignored). */
civ_status civ_posterior_load(const char *path, civ_posterior *p, civ_error *err);
/* The set used by run `run` of `runs` (the ensemble's runs per study) of a study with simulation seed `seed`. */
int civ_posterior_draw(const civ_posterior *p, uint64_t seed, uint32_t run, uint32_t runs);
void civ_posterior_free(civ_posterior *p);

#endif
