/* The LLM bridge: every refresh, one prompt per archetype (with agents), S
 * sampled answers each, read by one extraction rule (answer.h), validated
 * against the decision schema, averaged into p[archetype][decision],
 * optionally smoothed with the previous refresh, and written into the decision
 * table the kernels read. Modes: llm (server, with an answer cache reused
 * across runs) and replay (answers only from a recorded file, no network).
 *
 * In llm mode the first request goes alone until the server has answered one
 * (a preflight): a configuration error (bad key, wrong base_url or model, a
 * redirect) then ends the run with one line (exit 5) instead of a run of
 * fallback rows, unless the study sets on_error "fallback". The refresh never
 * outlasts deadline_s, retries and validation rounds included, and a cancel
 * flag (SIGINT/SIGTERM) aborts it within a few milliseconds. */
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

/* One answer the refresh did not accept (any round, from the server or the cache). */
typedef struct {
    int archetype, sample, round;
    char *reason;
    char *answer;               /* the answer text, or "ERROR: ..." */
} civ_rejection;

/* degenerate answers (the known failure of LLM archetypes) */
enum {
    CIV_DEGENERATE_SAME_ROWS = 1,   /* every archetype got the same answers */
    CIV_DEGENERATE_UNCHANGED = 2    /* the answers equal the previous refreshes' (CIV_DEGENERATE_REFRESHES in a row) */
};
#define CIV_DEGENERATE_REFRESHES 3

typedef struct {
    int step;
    int samples;
    char **prompts;             /* [archetype] rendered user prompt ("" for archetypes without agents) */
    char **answers;             /* [archetype][sample] the last answer asked: text or "ERROR: ..." */
    int requests, cache_hits, retries, fallbacks;
    int rejected;               /* answers not accepted, every round (details in rejections) */
    int extracted;              /* answers whose JSON object had to be extracted (answer.h) */
    int invalid_utf8;           /* bytes the server sent that were not UTF-8 (replaced) */
    long long prompt_tokens, completion_tokens;   /* from the servers' "usage"; -1: no response reported it */
    double latency_s;           /* seconds spent waiting on the server */
    double wall_s;              /* seconds the whole refresh took */
    int degenerate;             /* CIV_DEGENERATE_* bits */
    int *fallback_archetype;    /* [fallbacks] */
    char **fallback_reason;     /* [fallbacks] */
    civ_rejection *rejections;  /* [rejected] */
    int rejections_cap;
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
    const volatile sig_atomic_t *cancel;   /* set by SIGINT/SIGTERM: the refresh stops (may be NULL) */
    int endpoint_ok;            /* the server answered a request without a configuration error */
    float *prev_means;          /* previous refresh's answers (mean rows before smoothing) */
    unsigned char *prev_has;    /* [archetype] prev_means holds answers */
    int unchanged;              /* refreshes in a row whose answers equal the previous refresh's */
} civ_llm_bridge;

civ_status civ_bridge_init(civ_llm_bridge *b, const civ_study *s, civ_decision_table *t,
                           const int64_t *agents_per_archetype, int quiet, civ_error *err);
/* Fills b->table->p; `heuristic` holds the heuristic rows used as the last-resort fallback. Fails with
 * CIV_ERR_UNAVAILABLE on a configuration error (unless on_error is "fallback"), CIV_ERR_INTERRUPTED when
 * the cancel flag is set, CIV_ERR_INPUT when a replay lacks an answer. */
civ_status civ_bridge_refresh(civ_llm_bridge *b, const civ_situation *sit, const float *heuristic, civ_error *err);
void civ_bridge_free(civ_llm_bridge *b);

#endif
