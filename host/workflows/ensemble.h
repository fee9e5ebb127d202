/* Ensembles: every study (a base and its counterfactuals) for N seeds, with
 * every run's series and per-series mean, median and 5-95% bands in one HDF5
 * file. Under mpirun the runs are split over the ranks (round robin) and
 * gathered on rank 0; each run is deterministic, so the file does not depend
 * on the number of ranks. */
#ifndef CIV_ENSEMBLE_H
#define CIV_ENSEMBLE_H

#include <stdbool.h>

#include "host/output/ensemble_file.h"   /* the file's schema */
#include "host/study/study.h"

typedef struct {
    const char **studies;
    int n_studies;
    int seeds;                 /* runs per study: seeds study.seed, study.seed + 1, ... */
    int threads;               /* per rank; <= 0: cores / ranks */
    const char *backend;
    civ_study_overrides ov;    /* scale, steps shared by every study */
    const char *output;
    bool quiet;
} civ_ensemble_options;

civ_status civ_ensemble(const civ_ensemble_options *o, civ_error *err);

#endif
