/* What civitas calibrate writes (calibrate_output.c): the calibrated study (the input as its base,
 * the fitted fields at their posterior medians, 'posterior' naming the sample), the posterior sample
 * (CSV: one column per parameter path, weight, distance) and the record of the fit (.fit.json:
 * method, settings, likelihood, priors, every generation's tolerance, acceptance, ESS and posterior
 * summaries, the best particle, why it stopped, timings). Paths in them are relative to the file. */
#ifndef CIV_CALIBRATE_OUTPUT_H
#define CIV_CALIBRATE_OUTPUT_H

#include "host/workflows/calibrate_sampler.h"
#include "host/workflows/calibrate_spec.h"

typedef struct {
    double p05, median, p95, mean, sd;
} civ_cal_summary;

typedef struct {
    double tolerance;          /* INFINITY in generation 0 */
    int simulations;           /* run in this generation, those after its last acceptance included (depends on the ranks) */
    int proposals;             /* up to and including the last accepted one (does not) */
    double acceptance, ess, seconds, best_loss;
    int stopped_early;         /* of the proposals, those cut short once over the tolerance */
    civ_cal_summary post[CIV_CAL_MAX_PARAMS];
} civ_cal_generation;

typedef struct {
    const civ_cal_spec *sp;
    const civ_study *study;
    const char *study_path, *output;
    double scale;
    unsigned agents;
    int n_generations;
    const civ_cal_generation *generations;
    const civ_abc_generation *final;           /* the posterior: the last complete generation */
    const double *values;                      /* its particles' values [n][dim] */
    civ_cal_summary prior[CIV_CAL_MAX_PARAMS];
    double best_loss, best_values[CIV_CAL_MAX_PARAMS], best_terms[CIV_FIT_MAX_TARGETS + CIV_FIT_MAX_SERO];
    int best_generation;
    uint64_t best_seed;
    const char *stop_reason;
    int converged;
    char stop_message[512];
    double seconds;
    long simulations, proposals, simulated_days;   /* run; counted against the budget; simulated for the proposals */
    int ranks, threads;
} civ_cal_result;

/* The posterior summaries of the particles' values */
void civ_cal_summarise(const double *values, const double *w, int n, int dim, int k, civ_cal_summary *out);
/* Checks, before the work, that the three files can be written (civ_output_check). */
civ_status civ_cal_check_outputs(const char *output, civ_error *err);
/* Writes the three files: each in full under a partial name, then all renamed into place. */
civ_status civ_cal_write(const civ_cal_result *r, civ_error *err);

#endif
