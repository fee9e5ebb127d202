/* Running a study end to end: population, engine, outputs. */
#ifndef CIV_RUN_H
#define CIV_RUN_H

#include <stdbool.h>

#include "host/population/population.h"
#include "host/study/study.h"
#include "host/util/interrupt.h"   /* civ_interrupted: the run stops after the current day, its file marked interrupted */

typedef struct {
    const char *study;
    civ_study_overrides ov;
    int threads;            /* <= 0: all available */
    const char *backend;    /* "cpu", "cuda", "auto" */
    bool quiet;
} civ_run_options;


/* Loads or synthesizes the study's population; source describes where it came from. */
civ_status civ_study_population(const civ_study *s, bool quiet, civ_population *pop, char *source,
                                size_t source_len, civ_error *err);
civ_status civ_run(const civ_run_options *o, civ_error *err);

#endif
