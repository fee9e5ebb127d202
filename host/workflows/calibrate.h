/* Calibration (civitas calibrate): the free parameters, priors, targets and settings come from the
 * study's 'calibration' section (calibrate_spec.c); an ABC-SMC sampler (calibrate_sampler.c) with the
 * negative log-likelihood of calibrate_likelihood.c as its distance returns a weighted posterior
 * sample. Particles are spread over MPI ranks (mpirun, as for ensembles) and every draw is keyed by
 * (calibration seed, generation, particle), so the result does not depend on the number of ranks or
 * threads. Writes a calibrated study (the posterior medians, naming the posterior sample that
 * ensembles draw from) and a JSON record of the fit (calibrate_output.c). */
#ifndef CIV_CALIBRATE_H
#define CIV_CALIBRATE_H

#include <stdbool.h>

#include "host/util/error.h"

typedef struct {
    const char *study;
    const char *output;         /* calibrated study JSON */
    const char *fit_until;      /* YYYY-MM-DD; NULL: the study's calibration.fit_until */
    double scale;               /* < 0: calibration.method.scale, else the study's population scale */
    long long particles, generations, max_simulations, seed;   /* < 0: calibration.method's */
    int threads;                /* per rank; <= 0: cores / ranks */
    bool quiet;
} civ_calibrate_options;

civ_status civ_calibrate(const civ_calibrate_options *o, civ_error *err);

#endif
