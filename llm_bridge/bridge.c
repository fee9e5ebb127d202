#include "llm_bridge/bridge.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/philox.h"
#include "host/util/date.h"
#include "llm_bridge/answer.h"
#include "llm_bridge/prompt.h"
#include "llm_bridge/text_clean.h"

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
    b->prev_means = civ_xcalloc((size_t)t->n_archetypes * CIV_N_DECISION, sizeof(float));
    b->prev_has = civ_xcalloc((size_t)t->n_archetypes, 1);
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
    for (int k = 0; k < r->rejected; k++) { free(r->rejections[k].reason); free(r->rejections[k].answer); }
    free(r->prompts); free(r->answers); free(r->fallback_archetype); free(r->fallback_reason); free(r->rejections);
    memset(r, 0, sizeof *r);
}

void civ_bridge_free(civ_llm_bridge *b)
{
    if (b->table) free_record(&b->rec, b->table->n_archetypes);
    civ_cache_close(&b->cache);
    free(b->api_key);
    free(b->prev);
    free(b->prev_means);
    free(b->prev_has);
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
    if (pol->community_order < 0.999f) strcat(v->policies, "social distancing in public places; ");
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


typedef struct {
    char *request;
    uint64_t key;
    int valid;
    int final;                  /* failed in a way asking again cannot change: not re-asked */
    float p[CIV_N_DECISION];
    char *why;                  /* why the last answer was rejected */
} sample_t;

static void add_rejection(civ_refresh_record *rec, int idx, int round, const char *why)
{
    if (rec->rejected == rec->rejections_cap) {
        rec->rejections_cap = rec->rejections_cap ? 2 * rec->rejections_cap : 64;
        civ_rejection *r = realloc(rec->rejections, (size_t)rec->rejections_cap * sizeof *r);
        if (!r) abort();
        rec->rejections = r;
    }
    civ_rejection *r = &rec->rejections[rec->rejected++];
    r->archetype = idx / rec->samples;
    r->sample = idx % rec->samples;
    r->round = round;
    r->reason = strdup(why);
    r->answer = strdup(rec->answers[idx]);
}

/* An answer text (from the server or the cache) for sample idx: read by the extraction rule. */
static void take_answer(civ_llm_bridge *b, sample_t *x, int idx, int round, const char *content, int cut_off)
{
    civ_refresh_record *rec = &b->rec;
    free(rec->answers[idx]);
    rec->answers[idx] = strdup(content);
    civ_answer ans;
    x->valid = civ_answer_read(content, cut_off, b->study->llm.max_tokens, &ans) == 0;
    x->final = 0;
    rec->extracted += ans.extracted;
    free(x->why);
    x->why = ans.why;
    if (x->valid) memcpy(x->p, ans.p, sizeof x->p);
    else add_rejection(rec, idx, round, x->why);
}

/* A request that brought no answer text. */
static void take_failure(civ_llm_bridge *b, sample_t *x, int idx, int round, const char *error, int final)
{
    civ_refresh_record *rec = &b->rec;
    free(rec->answers[idx]);
    rec->answers[idx] = civ_strdupf("ERROR: %s", error);
    free(x->why);
    x->why = strdup(error);
    x->valid = 0;
    x->final = final;
    add_rejection(rec, idx, round, error);
}

/* A configuration error in one line: what was asked of whom, the server's words, what to check. */
static void config_message(const civ_llm_bridge *b, const civ_llm_job *j, char *out, size_t n)
{
    const civ_llm_settings *L = &b->study->llm;
    char url[1024], hint[300] = "";
    civ_llm_chat_url(L->base_url, url, sizeof url);
    if (j->http_status == 401 || j->http_status == 403)
        snprintf(hint, sizeof hint, "; check the API key (environment variable %s%s)", L->api_key_env,
                 b->api_key ? "" : ", which is not set");
    else if (j->http_status == 404 || j->http_status == 405)
        snprintf(hint, sizeof hint, "; check base_url (the server's address, with or without /v1) and model "
                 "(a name the server serves)");
    else if (j->http_status == 200)
        snprintf(hint, sizeof hint, "; check base_url");
    snprintf(out, n, "LLM server configuration: POST %s (base_url '%s', model '%s') failed: %s%s", url, L->base_url,
             L->model, j->error, hint);
}

static void accumulate(civ_llm_batch_stats *sum, const civ_llm_batch_stats *bs)
{
    sum->requests += bs->requests;
    sum->retries += bs->retries;
    sum->failures += bs->failures;
    sum->interrupted |= bs->interrupted;
    sum->wall_s += bs->wall_s;
}

/* Sends a round's requests. Until the server has answered once, the first goes alone (a preflight), so
 * that a configuration error costs one request and is told apart from a server that is merely busy.
 * Returns the index of a job that met a configuration error, or -1. */
static int send_round(civ_llm_bridge *b, civ_llm_job *jobs, int njobs, double deadline_at, civ_llm_batch_stats *sum)
{
    const civ_llm_settings *L = &b->study->llm;
    civ_llm_client_config cc = {L->base_url, b->api_key, L->concurrency, L->timeout_s, L->max_retries,
                                L->backoff_s, deadline_at, L->deadline_s, b->cancel};
    civ_llm_batch_stats bs;
    int first = 0;
    if (!b->endpoint_ok) {
        civ_llm_run_batch(&cc, jobs, 1, &bs);
        accumulate(sum, &bs);
        /* before any answer, a request the server refuses (400, 422, ...) is refused for all: configuration too */
        if (jobs[0].outcome == CIV_LLM_REFUSED && jobs[0].http_status >= 400 && jobs[0].http_status < 500)
            jobs[0].outcome = CIV_LLM_CONFIG;
        if (jobs[0].http_status > 0 && jobs[0].outcome != CIV_LLM_CONFIG) b->endpoint_ok = 1;
        first = 1;
        if (jobs[0].outcome == CIV_LLM_CONFIG || bs.interrupted) {
            for (int j = 1; j < njobs; j++) {
                jobs[j].content = NULL;
                jobs[j].outcome = bs.interrupted ? CIV_LLM_CANCELLED : CIV_LLM_NOT_SENT;
                jobs[j].http_status = 0;
                jobs[j].invalid_utf8 = 0;
                jobs[j].finish_reason[0] = 0;
                jobs[j].prompt_tokens = jobs[j].completion_tokens = -1;
                snprintf(jobs[j].error, sizeof jobs[j].error, "not sent: %.480s", jobs[0].error);
                civ_utf8_trim_partial(jobs[j].error);
            }
            return bs.interrupted ? -1 : 0;
        }
    }
    if (njobs > first) {
        civ_llm_run_batch(&cc, jobs + first, njobs - first, &bs);
        accumulate(sum, &bs);
    }
    for (int j = 0; j < njobs; j++) {
        if (jobs[j].http_status > 0 && jobs[j].outcome != CIV_LLM_CONFIG) b->endpoint_ok = 1;
        if (jobs[j].outcome == CIV_LLM_CONFIG) return j;
    }
    return -1;
}

static int rows_equal(const float *x, const float *y)
{
    for (int d = 0; d < CIV_N_DECISION; d++)
        if (fabsf(x[d] - y[d]) > 1e-6f) return 0;
    return 1;
}

/* Degenerate answers: every archetype answered alike, or the answers have not moved for
 * CIV_DEGENERATE_REFRESHES refreshes although the prompts changed. means/has: this refresh's mean answer
 * per archetype (before smoothing) and whether it has one. */
static void check_degenerate(civ_llm_bridge *b, int day, const float *means, const unsigned char *has)
{
    const int A = b->table->n_archetypes, D = CIV_N_DECISION;
    civ_refresh_record *rec = &b->rec;
    int n = 0, same_rows = 1, first = -1, same_as_prev = 1, compared = 0;
    for (int a = 0; a < A; a++) {
        if (!has[a]) continue;
        n++;
        if (first < 0) first = a;
        else if (!rows_equal(means + (size_t)a * D, means + (size_t)first * D)) same_rows = 0;
        if (b->prev_has[a]) {
            compared++;
            if (!rows_equal(means + (size_t)a * D, b->prev_means + (size_t)a * D)) same_as_prev = 0;
        }
    }
    b->unchanged = n > 0 && compared == n && same_as_prev ? b->unchanged + 1 : 0;
    if (n >= 2 && same_rows) rec->degenerate |= CIV_DEGENERATE_SAME_ROWS;
    if (b->unchanged >= CIV_DEGENERATE_REFRESHES - 1) rec->degenerate |= CIV_DEGENERATE_UNCHANGED;
    memcpy(b->prev_means, means, sizeof(float) * (size_t)A * D);
    memcpy(b->prev_has, has, (size_t)A);
    if (b->quiet || !rec->degenerate) return;
    if (rec->degenerate & CIV_DEGENERATE_SAME_ROWS) {
        const float *m = means + (size_t)first * D;
        fprintf(stderr, "\ncivitas: warning: LLM refresh on day %d: degenerate answers: all %d archetypes got the same "
                "answer (%s %.3g, %s %.3g, %s %.3g): the model is not telling the groups apart\n", day, n,
                civ_decision_name[0], m[0], civ_decision_name[1], m[1], civ_decision_name[2], m[2]);
    }
    if (rec->degenerate & CIV_DEGENERATE_UNCHANGED)
        fprintf(stderr, "\ncivitas: warning: LLM refresh on day %d: degenerate answers: every archetype's answer is the "
                "same as in the previous %d refreshes although the situation in the prompts changed\n", day,
                b->unchanged);
}

civ_status civ_bridge_refresh(civ_llm_bridge *b, const civ_situation *sit, const float *heuristic, civ_error *err)
{
    const civ_study *s = b->study;
    const civ_llm_settings *L = &s->llm;
    civ_decision_table *t = b->table;
    const int A = t->n_archetypes, S = L->samples, replay = s->behavior_mode == CIV_BEHAVIOR_REPLAY;
    const double t_start = civ_llm_now(), deadline_at = t_start + L->deadline_s;
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
    float *means = civ_xcalloc((size_t)A * CIV_N_DECISION, sizeof(float));
    unsigned char *has = civ_xcalloc((size_t)A, 1);
    long long usage_seen = 0;
    civ_llm_batch_stats sum = {0};
    civ_status st = CIV_OK;

    for (int a = 0; a < A; a++) {
        if (b->agents_per_archetype[a] == 0) { rec->prompts[a] = strdup(""); continue; }
        civ_prompt_vars v;
        fill_vars(b, sit, a, &v);
        rec->prompts[a] = civ_prompt_render(L->user_prompt, &v);
    }
    /* rounds: round 0 asks every sample; later rounds re-ask rejected answers with new seeds, unless asking
       again cannot help (x->final). Every request decided on gets a cache record, so a replay takes the
       same path: also those never sent (a configuration error, the deadline). */
    for (int round = 0; round <= L->validation_retries; round++) {
        int njobs = 0;
        for (int a = 0; a < A; a++) {
            if (b->agents_per_archetype[a] == 0) continue;
            for (int k = 0; k < S; k++) {
                sample_t *x = &sm[a * S + k];
                if (round > 0 && (x->valid || x->final)) continue;
                uint32_t seed = civ_rng(s->seed, (uint32_t)sit->day, (uint32_t)(a * 1024 + k), 1000u + (uint32_t)round).v[0] & 0x7FFFFFFF;
                free(x->request);
                x->request = build_request(L, rec->prompts[a], seed);
                x->key = civ_cache_key(x->request);
                const civ_cache_entry *hit = civ_cache_get(&b->cache, x->key);
                if (hit && (hit->content || replay)) {
                    rec->cache_hits++;
                    if (hit->content) take_answer(b, x, a * S + k, round, hit->content, (hit->flags & CIV_CACHE_CUT_OFF) != 0);
                    else take_failure(b, x, a * S + k, round, hit->error, (hit->flags & CIV_CACHE_FINAL) != 0);
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
        int config_job = -1;
        if (civ_llm_now() >= deadline_at) {   /* no time left for this round: recorded as not asked */
            for (int j = 0; j < njobs; j++) {
                jobs[j].content = NULL;
                jobs[j].outcome = CIV_LLM_DEADLINE;
                snprintf(jobs[j].error, sizeof jobs[j].error, "not asked: the refresh deadline (deadline_s = %g) "
                         "passed before validation retry %d", L->deadline_s, round);   /* round > 0: round 0 starts in time */
                jobs[j].finish_reason[0] = 0;
                jobs[j].invalid_utf8 = 0;
                jobs[j].prompt_tokens = -1;
            }
        } else {
            config_job = send_round(b, jobs, njobs, deadline_at, &sum);
            if (sum.interrupted) {
                for (int j = 0; j < njobs; j++) free(jobs[j].content);
                st = civ_fail(err, CIV_ERR_INTERRUPTED, "interrupted during the LLM refresh on day %d", sit->day);
                goto out;
            }
        }
        for (int j = 0; j < njobs; j++) {
            civ_llm_job *jb = &jobs[j];
            sample_t *x = &sm[job_of[j]];
            rec->invalid_utf8 += jb->invalid_utf8;
            if (jb->prompt_tokens >= 0) {
                usage_seen++;
                rec->prompt_tokens += jb->prompt_tokens;
                rec->completion_tokens += jb->completion_tokens;
            }
            if (jb->content) {
                int cut_off = strcmp(jb->finish_reason, "length") == 0;
                civ_cache_put_flags(&b->cache, x->key, x->request, jb->content, NULL, cut_off ? CIV_CACHE_CUT_OFF : 0);
                take_answer(b, x, job_of[j], round, jb->content, cut_off);
                free(jb->content);
                jb->content = NULL;
            } else {
                int final = !civ_llm_outcome_reaskable(jb->outcome);
                civ_cache_put_flags(&b->cache, x->key, x->request, NULL, jb->error, final ? CIV_CACHE_FINAL : 0);
                take_failure(b, x, job_of[j], round, jb->error, final);
            }
        }
        if (config_job >= 0) {
            char msg[1800];
            config_message(b, &jobs[config_job], msg, sizeof msg);
            if (!L->on_error_fallback) {
                st = civ_fail(err, CIV_ERR_UNAVAILABLE, "%s. With behavior.llm.on_error \"fallback\" the run would go on "
                              "with fallback rows instead", msg);
                goto out;
            }
            b->endpoint_ok = 0;   /* the next round or refresh starts with a preflight again */
            if (!b->quiet)
                fprintf(stderr, "\ncivitas: warning: LLM refresh on day %d: %s; on_error is \"fallback\": the "
                        "archetypes without an answer keep their fallback rows\n", sit->day, msg);
        }
    }
    rec->requests = sum.requests;
    rec->retries = sum.retries;
    rec->latency_s = sum.wall_s;
    if (usage_seen == 0 && sum.requests > 0) rec->prompt_tokens = rec->completion_tokens = -1;

    /* aggregate: mean of the valid samples; smoothing; fallbacks */
    for (int a = 0; a < A; a++) {
        float *row = t->p + (size_t)a * CIV_N_DECISION;
        const float *hrow = heuristic + (size_t)a * CIV_N_DECISION;
        if (b->agents_per_archetype[a] == 0) { memcpy(row, hrow, sizeof(float) * CIV_N_DECISION); continue; }
        double sum_p[CIV_N_DECISION] = {0};
        int nvalid = 0;
        const char *why = "no answer";
        for (int k = 0; k < S; k++) {
            sample_t *x = &sm[a * S + k];
            if (!x->valid) { if (x->why) why = x->why; continue; }
            nvalid++;
            for (int d = 0; d < CIV_N_DECISION; d++) sum_p[d] += x->p[d];
        }
        if (nvalid == 0) {
            const float *src = b->refreshes > 0 ? b->prev + (size_t)a * CIV_N_DECISION : hrow;
            memcpy(row, src, sizeof(float) * CIV_N_DECISION);
            char label[64];
            civ_archetype_label(t, a, label, sizeof label);
            char *reason = civ_strdupf("%s: no valid answer in %d samples (%s); kept the %s row", label, S, why,
                                       b->refreshes > 0 ? "previous" : "heuristic");
            rec->fallback_archetype[rec->fallbacks] = a;
            rec->fallback_reason[rec->fallbacks++] = reason;
            if (!b->quiet) fprintf(stderr, "\ncivitas: warning: LLM refresh on day %d: %s\n", sit->day, reason);
            continue;
        }
        has[a] = 1;
        for (int d = 0; d < CIV_N_DECISION; d++) {
            float p = (float)(sum_p[d] / nvalid);
            means[(size_t)a * CIV_N_DECISION + d] = p;
            if (b->refreshes > 0 && L->smoothing > 0)
                p = (float)(L->smoothing * b->prev[(size_t)a * CIV_N_DECISION + d] + (1.0 - L->smoothing) * p);
            row[d] = p;
        }
    }
    check_degenerate(b, sit->day, means, has);
    if (rec->invalid_utf8 && !b->quiet)
        fprintf(stderr, "\ncivitas: notice: LLM refresh on day %d: the server sent %d bytes that are not UTF-8 "
                "(replaced by U+FFFD in the answers kept)\n", sit->day, rec->invalid_utf8);
    memcpy(b->prev, t->p, sizeof(float) * (size_t)A * CIV_N_DECISION);
    b->refreshes++;
out:
    rec->wall_s = civ_llm_now() - t_start;
    for (int k = 0; k < A * S; k++) { free(sm[k].request); free(sm[k].why); }
    free(sm);
    free(jobs);
    free(job_of);
    free(means);
    free(has);
    return st;
}
