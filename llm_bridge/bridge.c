#include "llm_bridge/bridge.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/date.h"
#include "host/core/philox.h"
#include "llm_bridge/prompt.h"

civ_status civ_bridge_init(civ_llm_bridge *b, const civ_study *s, civ_decision_table *t,
                           const int64_t *agents_per_archetype, int quiet, civ_error *err)
{
    memset(b, 0, sizeof *b);
    b->study = s;
    b->table = t;
    b->agents_per_archetype = agents_per_archetype;
    b->quiet = quiet;
    const civ_llm_settings *L = &s->llm;
    int replay = s->behavior_mode == CIV_BEHAVIOR_REPLAY;
    civ_status st = civ_cache_open(&b->cache, replay ? L->replay_file : L->cache_file, replay, !replay, err);
    if (st) return st;
    if (!replay && L->api_key_env) {
        const char *k = getenv(L->api_key_env);
        if (k && *k) b->api_key = strdup(k);
        else if (!quiet)
            fprintf(stderr, "civitas: notice: environment variable %s is not set: requests carry no API key\n", L->api_key_env);
    }
    b->prev = civ_xcalloc((size_t)t->n_archetypes * CIV_N_DECISION, sizeof(float));
    int used = 0;
    int64_t lo = -1, hi = 0;
    for (int a = 0; a < t->n_archetypes; a++) {
        int64_t k = agents_per_archetype[a];
        if (!k) continue;
        used++;
        if (lo < 0 || k < lo) lo = k;
        if (k > hi) hi = k;
    }
    if (!quiet)
        fprintf(stderr, "civitas: archetypes: %d cells, %d with agents (%lld to %lld agents each; "
                "/llm/agents_per_archetype in the output)\n", t->n_archetypes, used, (long long)lo, (long long)hi);
    if (!quiet)
        fprintf(stderr, "civitas: LLM bridge (%s): %d archetypes x %d samples per refresh%s%s, answers %s %s\n",
                replay ? "replay" : "llm", t->n_archetypes, L->samples, replay ? "" : ", model ",
                replay ? "" : L->model, replay ? "from" : "cached in", b->cache.path);
    return CIV_OK;
}

static void free_record(civ_refresh_record *r, int n_arch)
{
    if (r->prompts) for (int a = 0; a < n_arch; a++) free(r->prompts[a]);
    if (r->answers) for (int k = 0; k < n_arch * r->samples; k++) free(r->answers[k]);
    for (int k = 0; k < r->fallbacks; k++) free(r->fallback_reason[k]);
    free(r->prompts); free(r->answers); free(r->fallback_archetype); free(r->fallback_reason);
    memset(r, 0, sizeof *r);
}

void civ_bridge_free(civ_llm_bridge *b)
{
    if (b->table) free_record(&b->rec, b->table->n_archetypes);
    civ_cache_close(&b->cache);
    free(b->api_key);
    free(b->prev);
    memset(b, 0, sizeof *b);
}

static void fill_vars(const civ_llm_bridge *b, const civ_situation *sit, int a, civ_prompt_vars *v)
{
    const civ_decision_table *t = b->table;
    civ_archetype_parts p = civ_archetype_decode(t, a);
    memset(v, 0, sizeof *v);
    int lo = t->band_edges[p.band];
    civ_age_band_label(t->band_edges, t->n_bands, p.band, v->age_band, sizeof v->age_band);
    if (p.band + 1 < t->n_bands) snprintf(v->age_phrase, sizeof v->age_phrase, "aged %d to %d", lo, t->band_edges[p.band + 1] - 1);
    else snprintf(v->age_phrase, sizeof v->age_phrase, "aged %d or older", lo);
    /* without a sex split: "a typical resident" (not "adult": age bands may hold children) */
    snprintf(v->sex, sizeof v->sex, "%s", t->n_sex == 2 ? (p.sex ? "male" : "female") : "typical");
    int boro = t->n_borough == CIV_NBOROUGH ? p.borough : -1;
    snprintf(v->borough, sizeof v->borough, "%s", boro >= 0 ? civ_borough_code[boro] : "NYC");
    snprintf(v->borough_name, sizeof v->borough_name, "%s", boro >= 0 ? civ_borough_name[boro] : "New York City");
    static const char *const emp[3] = {"not in the labour force", "employed", "unemployed and looking for work"};
    snprintf(v->employment, sizeof v->employment, "%s", t->n_employment == 3 ? emp[p.employment] : "of any employment status");
    snprintf(v->household, sizeof v->household, "%s", t->n_children == 2 ? (p.children ? "lives with children under 18"
                                                                             : "lives in a household without children")
                                                                     : "may or may not live with children");
    int day = sit->start_day + sit->day;
    civ_date_format(day, v->date);
    static const char *const wd[7] = {"Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"};
    snprintf(v->weekday, sizeof v->weekday, "%s", wd[((day % 7) + 7) % 7]);
    v->week = sit->day / 7 + 1;
    double cw = 0, c4 = 0, popn = 0, unemp = 0;
    for (int k = 0; k < CIV_NBOROUGH; k++) {
        if (boro >= 0 && k != boro) continue;
        cw += sit->cases_week[k]; c4 += sit->cases_4wk_weekly[k]; popn += sit->population[k];
        unemp += sit->unemployment_pct[k] * sit->population[k];
    }
    v->cases_week = lround(cw / sit->scale);
    v->cases_per_100k = popn > 0 ? cw * 1e5 / popn : 0;
    v->unemployment_rate = popn > 0 ? unemp / popn : 0;
    if (c4 <= 0 || fabs(cw / c4 - 1.0) < 0.005) snprintf(v->cases_change, sizeof v->cases_change, "%s",
                                                        cw > 0 && c4 <= 0 ? "a rise from zero compared with" : "the same as");
    else if (cw > c4) snprintf(v->cases_change, sizeof v->cases_change, "a %d%% increase from", (int)lround((cw / c4 - 1) * 100));
    else snprintf(v->cases_change, sizeof v->cases_change, "a %d%% decrease from", (int)lround((1 - cw / c4) * 100));
    const civ_policy *pol = sit->policy;
    v->policies[0] = 0;
    if (pol->schools_closed) strcat(v->policies, "schools closed; ");
    if (pol->work_closed) strcat(v->policies, "stay-at-home order, non-essential workplaces closed; ");
    if (pol->community_factor < 0.999f) strcat(v->policies, "social distancing in public places; ");
    size_t l = strlen(v->policies);
    if (l) v->policies[l - 2] = 0;
    else snprintf(v->policies, sizeof v->policies, "no restrictions");
}

static char *build_request(const civ_llm_settings *L, const char *user, uint32_t seed)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "model", L->model ? L->model : "replay");
    cJSON *msgs = cJSON_AddArrayToObject(r, "messages");
    cJSON *sys = cJSON_CreateObject();
    cJSON_AddStringToObject(sys, "role", "system");
    cJSON_AddStringToObject(sys, "content", L->system_prompt);
    cJSON_AddItemToArray(msgs, sys);
    cJSON *u = cJSON_CreateObject();
    cJSON_AddStringToObject(u, "role", "user");
    cJSON_AddStringToObject(u, "content", user);
    cJSON_AddItemToArray(msgs, u);
    cJSON_AddNumberToObject(r, "temperature", L->temperature);
    cJSON_AddNumberToObject(r, "max_tokens", L->max_tokens);
    cJSON_AddNumberToObject(r, "seed", seed);
    if (L->response_format == 2) {
        cJSON *rf = cJSON_AddObjectToObject(r, "response_format");
        cJSON_AddStringToObject(rf, "type", "json_object");
    } else if (L->response_format == 1) {
        cJSON *rf = cJSON_AddObjectToObject(r, "response_format");
        cJSON_AddStringToObject(rf, "type", "json_schema");
        cJSON *js = cJSON_AddObjectToObject(rf, "json_schema");
        cJSON_AddStringToObject(js, "name", "agent_decision");
        cJSON_AddBoolToObject(js, "strict", 1);
        cJSON *schema = cJSON_AddObjectToObject(js, "schema");
        cJSON_AddStringToObject(schema, "type", "object");
        cJSON *props = cJSON_AddObjectToObject(schema, "properties");
        cJSON *req = cJSON_AddArrayToObject(schema, "required");
        for (int d = 0; d < CIV_N_DECISION; d++) {
            cJSON *pd = cJSON_AddObjectToObject(props, civ_decision_name[d]);
            cJSON_AddStringToObject(pd, "type", "number");
            cJSON_AddNumberToObject(pd, "minimum", 0);
            cJSON_AddNumberToObject(pd, "maximum", 1);
            cJSON_AddItemToArray(req, cJSON_CreateString(civ_decision_name[d]));
        }
        cJSON *rs = cJSON_AddObjectToObject(props, "reasoning");
        cJSON_AddStringToObject(rs, "type", "string");
        cJSON_AddItemToArray(req, cJSON_CreateString("reasoning"));
        cJSON_AddBoolToObject(schema, "additionalProperties", 0);
    }
    char *s = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return s;
}

/* Validates an answer: a JSON object with every decision a number in [0, 1]. */
static int parse_answer(const char *content, float out[CIV_N_DECISION], char *why, size_t why_len)
{
    cJSON *j = cJSON_Parse(content);
    if (!j || !cJSON_IsObject(j)) {
        snprintf(why, why_len, "answer is not a JSON object");
        cJSON_Delete(j);
        return -1;
    }
    for (int d = 0; d < CIV_N_DECISION; d++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(j, civ_decision_name[d]);
        if (!cJSON_IsNumber(v)) {
            snprintf(why, why_len, "answer lacks a number '%s'", civ_decision_name[d]);
            cJSON_Delete(j);
            return -1;
        }
        if (!(v->valuedouble >= 0 && v->valuedouble <= 1)) {
            snprintf(why, why_len, "answer has %s = %g, outside [0, 1]", civ_decision_name[d], v->valuedouble);
            cJSON_Delete(j);
            return -1;
        }
        out[d] = (float)v->valuedouble;
    }
    cJSON_Delete(j);
    return 0;
}

typedef struct {
    char *request;
    uint64_t key;
    int valid;
    float p[CIV_N_DECISION];
    char why[256];
} sample_t;

civ_status civ_bridge_refresh(civ_llm_bridge *b, const civ_situation *sit, const float *heuristic, civ_error *err)
{
    const civ_study *s = b->study;
    const civ_llm_settings *L = &s->llm;
    civ_decision_table *t = b->table;
    const int A = t->n_archetypes, S = L->samples, replay = s->behavior_mode == CIV_BEHAVIOR_REPLAY;
    free_record(&b->rec, A);
    civ_refresh_record *rec = &b->rec;
    rec->step = sit->day;
    rec->samples = S;
    rec->prompts = civ_xcalloc((size_t)A, sizeof(char *));
    rec->answers = civ_xcalloc((size_t)A * S, sizeof(char *));
    rec->fallback_archetype = civ_xcalloc((size_t)A, sizeof(int));
    rec->fallback_reason = civ_xcalloc((size_t)A, sizeof(char *));
    sample_t *sm = civ_xcalloc((size_t)A * S + 1, sizeof *sm);
    civ_llm_job *jobs = civ_xcalloc((size_t)A * S + 1, sizeof *jobs);
    int *job_of = civ_xcalloc((size_t)A * S + 1, sizeof(int));
    double t0 = 0;
    civ_status st = CIV_OK;

    for (int a = 0; a < A; a++) {
        if (b->agents_per_archetype[a] == 0) { rec->prompts[a] = strdup(""); continue; }
        civ_prompt_vars v;
        fill_vars(b, sit, a, &v);
        rec->prompts[a] = civ_prompt_render(L->user_prompt, &v);
    }
    /* rounds: round 0 asks every sample; later rounds re-ask invalid answers with new seeds */
    for (int round = 0; round <= L->validation_retries; round++) {
        int njobs = 0;
        for (int a = 0; a < A; a++) {
            if (b->agents_per_archetype[a] == 0) continue;
            for (int k = 0; k < S; k++) {
                sample_t *x = &sm[a * S + k];
                if (round > 0 && x->valid) continue;
                uint32_t seed = civ_rng(s->seed, (uint32_t)sit->day, (uint32_t)(a * 1024 + k), 1000u + (uint32_t)round).v[0] & 0x7FFFFFFF;
                free(x->request);
                x->request = build_request(L, rec->prompts[a], seed);
                x->key = civ_cache_key(x->request);
                const civ_cache_entry *hit = civ_cache_get(&b->cache, x->key);
                if (hit && (hit->content || replay)) {
                    rec->cache_hits++;
                    free(rec->answers[a * S + k]);
                    if (hit->content) {
                        rec->answers[a * S + k] = strdup(hit->content);
                        x->valid = parse_answer(hit->content, x->p, x->why, sizeof x->why) == 0;
                    } else {
                        size_t n = strlen(hit->error) + 8;
                        rec->answers[a * S + k] = civ_xmalloc(n);
                        snprintf(rec->answers[a * S + k], n, "ERROR: %s", hit->error);
                        snprintf(x->why, sizeof x->why, "%s", hit->error);
                        x->valid = 0;
                    }
                    continue;
                }
                if (replay) {
                    char label[64];
                    civ_archetype_label(t, a, label, sizeof label);
                    if (round > 0)   /* a recorded run re-asks only answers it rejected, so this one was accepted then */
                        st = civ_fail(err, CIV_ERR_INPUT, "%s: the recorded answer for day %d, archetype %s, sample %d is "
                                      "rejected (%s) and no re-asked answer is recorded (validation retry %d): was the "
                                      "file edited, or recorded with other validation settings?",
                                      b->cache.path, sit->day, label, k, x->why, round);
                    else
                        st = civ_fail(err, CIV_ERR_INPUT, "%s: no recorded answer for day %d, archetype %s, sample %d "
                                      "(the prompts differ from the recorded run: same study, seed and population?)",
                                      b->cache.path, sit->day, label, k);
                    goto out;
                }
                jobs[njobs].body = x->request;
                job_of[njobs++] = a * S + k;
            }
        }
        if (!njobs) continue;   /* everything came from the cache this round */
        civ_llm_client_config cc = {L->base_url, b->api_key, L->concurrency, L->timeout_s, L->max_retries,
                                    L->backoff_s, L->deadline_s};
        civ_llm_batch_stats bs;
        civ_llm_run_batch(&cc, jobs, njobs, &bs);
        rec->requests += bs.requests;
        rec->retries += bs.retries;
        t0 += bs.wall_s;
        for (int j = 0; j < njobs; j++) {
            sample_t *x = &sm[job_of[j]];
            free(rec->answers[job_of[j]]);
            if (jobs[j].content) {
                rec->answers[job_of[j]] = jobs[j].content;
                civ_cache_put(&b->cache, x->key, x->request, jobs[j].content, NULL);
                x->valid = parse_answer(jobs[j].content, x->p, x->why, sizeof x->why) == 0;
            } else {
                size_t n = strlen(jobs[j].error) + 8;
                rec->answers[job_of[j]] = civ_xmalloc(n);
                snprintf(rec->answers[job_of[j]], n, "ERROR: %s", jobs[j].error);
                civ_cache_put(&b->cache, x->key, x->request, NULL, jobs[j].error);
                snprintf(x->why, sizeof x->why, "%s", jobs[j].error);
                x->valid = 0;
            }
            jobs[j].content = NULL;
        }
    }
    rec->latency_s = t0;

    /* aggregate: mean of the valid samples; smoothing; fallbacks */
    for (int a = 0; a < A; a++) {
        float *row = t->p + (size_t)a * CIV_N_DECISION;
        const float *hrow = heuristic + (size_t)a * CIV_N_DECISION;
        if (b->agents_per_archetype[a] == 0) { memcpy(row, hrow, sizeof(float) * CIV_N_DECISION); continue; }
        double sum[CIV_N_DECISION] = {0};
        int nvalid = 0;
        const char *why = "no answer";
        for (int k = 0; k < S; k++) {
            sample_t *x = &sm[a * S + k];
            if (!x->valid) { why = x->why; continue; }
            nvalid++;
            for (int d = 0; d < CIV_N_DECISION; d++) sum[d] += x->p[d];
        }
        if (nvalid == 0) {
            const float *src = b->refreshes > 0 ? b->prev + (size_t)a * CIV_N_DECISION : hrow;
            memcpy(row, src, sizeof(float) * CIV_N_DECISION);
            char label[64], reason[400];
            civ_archetype_label(t, a, label, sizeof label);
            snprintf(reason, sizeof reason, "%s: no valid answer in %d samples (%s); kept the %s row", label, S, why,
                     b->refreshes > 0 ? "previous" : "heuristic");
            rec->fallback_archetype[rec->fallbacks] = a;
            rec->fallback_reason[rec->fallbacks++] = strdup(reason);
            if (!b->quiet) fprintf(stderr, "\ncivitas: warning: LLM refresh on day %d: %s\n", sit->day, reason);
            continue;
        }
        for (int d = 0; d < CIV_N_DECISION; d++) {
            float p = (float)(sum[d] / nvalid);
            if (b->refreshes > 0 && L->smoothing > 0)
                p = (float)(L->smoothing * b->prev[(size_t)a * CIV_N_DECISION + d] + (1.0 - L->smoothing) * p);
            row[d] = p;
        }
    }
    memcpy(b->prev, t->p, sizeof(float) * (size_t)A * CIV_N_DECISION);
    b->refreshes++;
out:
    for (int k = 0; k < A * S; k++) free(sm[k].request);
    free(sm);
    free(jobs);
    free(job_of);
    return st;
}
