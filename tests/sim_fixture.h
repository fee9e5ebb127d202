/* A study, its population and an engine, opened and closed together (C tests). */
#ifndef CIV_TEST_SIM_FIXTURE_H
#define CIV_TEST_SIM_FIXTURE_H

#include "host/engine/engine.h"
#include "host/workflows/backend_choice.h"
#include "host/workflows/run.h"

typedef struct {
    civ_study s;
    civ_population pop;
    civ_engine e;
} sim;

/* scale, steps, seed < 0 keep the study's values. */
static inline civ_status sim_load(sim *m, const char *study, double scale, long steps, long long seed, int threads,
                                  civ_backend backend, civ_error *err)
{
    civ_study_overrides ov = {scale, steps, seed, NULL, NULL, NULL, NULL, true, NULL};
    char src[1024];
    civ_status st = civ_study_load(study, &ov, &m->s, err);
    if (!st) st = civ_study_population(&m->s, true, &m->pop, src, sizeof src, err);
    if (!st) st = civ_engine_init(&m->e, &m->s, &m->pop, threads, civ_backend_ops_of(backend), 0, err);
    return st;
}

static inline void sim_close(sim *m)
{
    civ_engine_free(&m->e);
    civ_population_free(&m->pop);
    civ_study_free(&m->s);
}

#endif
