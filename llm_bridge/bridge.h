/* The LLM bridge: every refresh, one prompt per archetype (with agents), S
 * sampled answers each, validated against the decision schema, averaged into
 * p[archetype][decision], optionally smoothed with the previous refresh, and
 * written into the decision table the kernels read. Modes: llm (server, with
 * an answer cache reused across runs) and replay (answers only from a recorded
 * file, no network). */
#ifndef CIV_BRIDGE_H
#define CIV_BRIDGE_H

#include "llm_bridge/answer_cache.h"
#include "llm_bridge/decision_table.h"
#include "llm_bridge/llm_client.h"

typedef struct {
    int day, start_day;
    double scale;                              /* simulated / real population */
    double cases_week[CIV_NBOROUGH];           /* simulated reported cases, last 7 days */
    double cases_4wk_weekly[CIV_NBOROUGH];     /* mean weekly reported cases over the last 28 days */
    double unemployment_pct[CIV_NBOROUGH];
    double population[CIV_NBOROUGH];           /* simulated agents */
    const civ_policy *policy;
} civ_situation;

typedef struct {
    int step;
    int samples;
    char **prompts;             /* [archetype] rendered user prompt ("" for archetypes without agents) */
    char **answers;             /* [archetype][sample] raw answer or "ERROR: ..." */
    int requests, cache_hits, retries, fallbacks;
    double latency_s;
    int *fallback_archetype;    /* [fallbacks] */
    char **fallback_reason;     /* [fallbacks] */
} civ_refresh_record;

typedef struct {
    const civ_study *study;
    civ_decision_table *table;
    const int64_t *agents_per_archetype;
    civ_answer_cache cache;
    char *api_key;
    float *prev;                /* previous refresh's table */
    int refreshes;
    civ_refresh_record rec;
    int quiet;
} civ_llm_bridge;

civ_status civ_bridge_init(civ_llm_bridge *b, const civ_study *s, civ_decision_table *t,
                           const int64_t *agents_per_archetype, int quiet, civ_error *err);
/* Fills b->table->p; `heuristic` holds the heuristic rows used as the last-resort fallback. */
civ_status civ_bridge_refresh(civ_llm_bridge *b, const civ_situation *sit, const float *heuristic, civ_error *err);
void civ_bridge_free(civ_llm_bridge *b);

#endif
