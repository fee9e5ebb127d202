/* The study's 'calibration' section, read and checked: free parameters (a JSON path into the study
 * with a prior and its source each), count targets and serosurveys (the likelihood), the fitted
 * window and the held-out window it must not touch, and the sampler's settings. Every error names the
 * study file, the field and the value. */
#ifndef CIV_CALIBRATE_SPEC_H
#define CIV_CALIBRATE_SPEC_H

#include <stdint.h>

#include "host/study/study.h"
#include "host/workflows/calibrate.h"
#include "host/workflows/calibrate_likelihood.h"
#include "host/workflows/calibrate_prior.h"
#include "host/workflows/calibrate_sampler.h"

#define CIV_CAL_MAX_PARAMS 16
#define CIV_CAL_MAX_PATH 200

typedef struct {
    char path[CIV_CAL_MAX_PATH];
    civ_prior prior;
    const char *source;        /* points into the study's JSON */
} civ_cal_param;

typedef struct {
    int n_params;
    civ_cal_param params[CIV_CAL_MAX_PARAMS];
    civ_fit_data fit;          /* targets and surveys (simulation days); the caller adds obs, scale, bands */
    int fit_until, held_out_from;   /* day numbers; held_out_from = INT_MAX when the study declares none */
    int particles, max_generations, max_simulations;
    double quantile, min_acceptance, min_tolerance_decrease, scale;   /* scale < 0: the study's */
    civ_abc_kernel_kind kernel;
    uint64_t seed;
} civ_cal_spec;

/* Reads s->resolved's 'calibration' with the command line's overrides. */
civ_status civ_cal_spec_read(const civ_study *s, const civ_calibrate_options *o, civ_cal_spec *spec, civ_error *err);

#endif
