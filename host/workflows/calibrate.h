/* Calibration: fits the transmission scale (overall and from a policy date),
 * the initial infections and the testing (ascertainment) level to observed
 * daily reported cases per borough, with Nelder-Mead on an ensemble mean
 * (seeds are common random numbers: the same draws at every trial point).
 * Days after fit_until are held out. Several restarts with different seed
 * sets give each parameter's spread. Writes a calibrated study file that
 * overrides the original, and a JSON summary of the fit. */
#ifndef CIV_CALIBRATE_H
#define CIV_CALIBRATE_H

#include <stdbool.h>

#include "host/util/error.h"

typedef struct {
    const char *study;
    const char *output;         /* calibrated study JSON */
    const char *fit_until;      /* YYYY-MM-DD: last fitted day */
    bool fit_after_stay_at_home; /* also fit transmission.after_stay_at_home */
    double scale;
    int seeds, restarts, max_evaluations, steps, threads;
    bool fit_testing;
    bool quiet;
} civ_calibrate_options;

civ_status civ_calibrate(const civ_calibrate_options *o, civ_error *err);

#endif
