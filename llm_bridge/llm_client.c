#include "llm_bridge/llm_client.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text_clean.h"

typedef struct {
    civ_llm_job *job;
    CURL *easy;
    struct curl_slist *headers;
    char *buf;
    size_t len, cap;
    double first_sent, next_at;   /* next_at: earliest time of the next attempt */
    int state;                    /* 0 waiting, 1 in flight, 2 done */
    int too_big;                  /* the response passed CIV_LLM_MAX_RESPONSE: transfer aborted */
    int cut_by_deadline;          /* this attempt's timeout is the time left before the deadline */
} slot;

/* A chat completion of at most 32768 tokens is well under 1 MiB; a larger body is not one, and is
 * cut off rather than held in memory until the timeout. */
#define CIV_LLM_MAX_RESPONSE ((size_t)16 << 20)

double civ_llm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int civ_llm_outcome_reaskable(civ_llm_outcome o)
{
    return o == CIV_LLM_ANSWERED || o == CIV_LLM_NO_ANSWER || o == CIV_LLM_GAVE_UP;
}

void civ_llm_chat_url(const char *base_url, char *out, size_t n)
{
    size_t bl = strlen(base_url);
    while (bl && base_url[bl - 1] == '/') bl--;
    /* the OpenAI SDKs take base_url with /v1; accept both spellings */
    int has_v1 = bl >= 3 && strncmp(base_url + bl - 3, "/v1", 3) == 0;
    snprintf(out, n, "%.*s%s/chat/completions", (int)bl, base_url, has_v1 ? "" : "/v1");
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    slot *s = user;
    size_t n = size * nmemb;
    if (s->len + n > CIV_LLM_MAX_RESPONSE) {
        s->too_big = 1;
        return 0;   /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1) cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) return 0;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, n);
    s->len += n;
    s->buf[s->len] = 0;
    return n;
}

static int retryable(long status) { return status == 0 || status == 408 || status == 429 || status >= 500; }

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return s;
}

/* The server's own words in a parsed body: {"error": {"message"}} (OpenAI, llama.cpp, Ollama), {"error": "..."},
 * {"message": "..."} (vLLM's error object), {"detail": "..."} or {"detail": [{"loc", "msg"}, ...]} (FastAPI
 * validation errors, vLLM). "" when there is none. */
static void reason_of(const cJSON *j, char *out, size_t n)
{
    out[0] = 0;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
    if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(j, "message");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "detail");
    if (cJSON_IsString(m)) snprintf(out, n, "%s", m->valuestring);
    else if (cJSON_IsString(d)) snprintf(out, n, "%s", d->valuestring);
    else if (cJSON_IsArray(d)) {
        size_t o = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, d) {
            const cJSON *msg = cJSON_GetObjectItemCaseSensitive(it, "msg"), *loc = cJSON_GetObjectItemCaseSensitive(it, "loc");
            if (!cJSON_IsString(msg) || o + 1 >= n) continue;
            char where[128] = "";
            const cJSON *part;
            cJSON_ArrayForEach(part, loc) {
                size_t w = strlen(where);
                if (cJSON_IsString(part)) snprintf(where + w, sizeof where - w, "%s%s", w ? "." : "", part->valuestring);
                else if (cJSON_IsNumber(part)) snprintf(where + w, sizeof where - w, "%s%d", w ? "." : "", part->valueint);
            }
            int k = snprintf(out + o, n - o, "%s%s%s%s", o ? "; " : "", where, where[0] ? ": " : "", msg->valuestring);
            o = k < 0 ? n : o + (size_t)k;
        }
    } else if (e && !cJSON_IsNull(e)) {
        char *t = cJSON_PrintUnformatted(e);   /* an error object of another shape: keep it whole */
        if (t) snprintf(out, n, "%s", t);
        cJSON_free(t);
    }
}

/* "HTTP <status>: <the server's reason>" for a body that may be JSON, plain text or an HTML page. */
static void http_error(long status, const char *body, char *out, size_t out_len)
{
    char detail[300] = "";
    cJSON *j = body && *body ? cJSON_Parse(body) : NULL;
    if (j) reason_of(j, detail, sizeof detail);
    else if (body && *skip_space(body) == '<') snprintf(detail, sizeof detail, "an HTML page, not an API response");
    else if (body && *body) snprintf(detail, sizeof detail, "%.*s", (int)strcspn(body, "\r\n"), body);
    cJSON_Delete(j);
    for (char *p = detail; *p; p++) if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    if (detail[0]) snprintf(out, out_len, "HTTP %ld: %s", status, detail);
    else snprintf(out, out_len, "HTTP %ld", status);
}

/* An HTTP 200 body: the answer text, or why there is none. */
static civ_llm_outcome read_completion(const char *body, civ_llm_job *job)
{
    cJSON *j = cJSON_Parse(body);
    if (!j) {
        snprintf(job->error, sizeof job->error, "HTTP 200 but the response is not JSON%s: no OpenAI-compatible "
                 "API at this URL", *skip_space(body) == '<' ? " (an HTML page)" : "");
        return CIV_LLM_CONFIG;
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
    if (cJSON_IsNumber(pt) && cJSON_IsNumber(ct)) {
        job->prompt_tokens = (long)pt->valuedouble;
        job->completion_tokens = (long)ct->valuedouble;
    }
    civ_llm_outcome o = CIV_LLM_NO_ANSWER;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    const cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
    if (cJSON_IsString(fin)) snprintf(job->finish_reason, sizeof job->finish_reason, "%s", fin->valuestring);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(c0, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
    char reason[300];
    if (err && !cJSON_IsNull(err)) {
        reason_of(j, reason, sizeof reason);
        snprintf(job->error, sizeof job->error, "HTTP 200 carrying an error: %s", reason);
    } else if (!c0) {
        snprintf(job->error, sizeof job->error, "HTTP 200 but the response has no choices: not a chat completion "
                 "(no OpenAI-compatible API at this URL)");
        o = CIV_LLM_CONFIG;
    } else if (cJSON_IsString(content)) {
        job->content = strdup(content->valuestring);
        o = CIV_LLM_ANSWERED;
    } else if (cJSON_IsString(refusal)) {
        snprintf(job->error, sizeof job->error, "the model refused: %s", refusal->valuestring);
    } else if (strcmp(job->finish_reason, "length") == 0) {
        snprintf(job->error, sizeof job->error, "no answer text: the answer was cut off at max_tokens (finish_reason "
                 "\"length\"); raise behavior.llm.max_tokens");
    } else {
        snprintf(job->error, sizeof job->error, "response has no answer text (choices[0].message.content is %s, "
                 "finish_reason \"%s\")", content ? "null" : "missing", job->finish_reason);
    }
    cJSON_Delete(j);
    return o;
}

static void start(CURLM *multi, const civ_llm_client_config *cfg, const char *url, slot *s, double t)
{
    s->len = 0;
    s->too_big = 0;
    if (s->buf) s->buf[0] = 0;
    s->easy = curl_easy_init();
    s->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (cfg->api_key && *cfg->api_key) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", cfg->api_key);
        s->headers = curl_slist_append(s->headers, auth);
    }
    /* an attempt never runs past the deadline */
    double budget = cfg->deadline_at - t;
    s->cut_by_deadline = budget < cfg->timeout_s;
    long ms = (long)((s->cut_by_deadline ? budget : cfg->timeout_s) * 1000);
    if (ms < 1) ms = 1;
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->job->body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(multi, s->easy);
    if (s->job->attempts == 0) s->first_sent = t;
    s->job->attempts++;
    s->state = 1;
}

static void finish_handle(CURLM *multi, slot *s)
{
    curl_multi_remove_handle(multi, s->easy);
    curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->headers);
    s->easy = NULL;
    s->headers = NULL;
}

/* Ends a job: everything kept from the server is cleaned before anyone stores or prints it. */
static void settle(const civ_llm_client_config *cfg, slot *s, civ_llm_outcome o, double t, civ_llm_batch_stats *stats)
{
    civ_llm_job *job = s->job;
    job->outcome = o;
    if (strlen(job->error) == sizeof job->error - 1) civ_utf8_trim_partial(job->error);   /* cut by a full buffer */
    civ_text_clean_into(job->error, sizeof job->error, cfg->api_key, &job->invalid_utf8);
    if (job->content) {
        char *c = civ_text_clean(job->content, cfg->api_key, &job->invalid_utf8);
        free(job->content);
        job->content = c;
    }
    job->latency_s = job->attempts ? t - s->first_sent : 0;
    if (o != CIV_LLM_ANSWERED) stats->failures++;
    s->state = 2;
}

/* Ends every job still open (waiting or in flight) with outcome o; `why` replaces or extends its error. */
static void deadline_reason(const civ_llm_client_config *cfg, char *out, size_t n)
{
    snprintf(out, n, "the refresh deadline (deadline_s = %g) passed", cfg->deadline_s);
}

static int end_open_jobs(CURLM *multi, const civ_llm_client_config *cfg, slot *slots, int n, civ_llm_outcome o,
                         const char *why, double t, civ_llm_batch_stats *stats)
{
    int ended = 0;
    for (int i = 0; i < n; i++) {
        slot *s = &slots[i];
        if (s->state == 2) continue;
        if (s->state == 1) finish_handle(multi, s);
        civ_llm_job *job = s->job;
        char prev[sizeof job->error];
        snprintf(prev, sizeof prev, "%s", job->error);
        if (o == CIV_LLM_DEADLINE && prev[0])   /* keep what went wrong before the deadline */
            snprintf(job->error, sizeof job->error, "%.300s; then %s", prev, why);
        else
            snprintf(job->error, sizeof job->error, "%s", why);
        settle(cfg, s, o, t, stats);
        ended++;
    }
    return ended;
}

/* A finished transfer: done (returns 1, outcome set) or scheduled for another attempt (returns 0). */
static int on_transfer_done(const civ_llm_client_config *cfg, slot *s, CURLcode rc, long status,
                            curl_off_t retry_after, const char *redirect, double tn, civ_llm_batch_stats *stats)
{
    civ_llm_job *job = s->job;
    job->http_status = (int)status;
    if (rc == CURLE_OK && status == 200) {
        settle(cfg, s, read_completion(s->buf ? s->buf : "", job), tn, stats);
        return 1;
    }
    civ_llm_outcome final = CIV_LLM_GAVE_UP;
    if (s->too_big) {
        snprintf(job->error, sizeof job->error, "response larger than %zu MiB (not a chat completion)",
                 CIV_LLM_MAX_RESPONSE >> 20);
        final = CIV_LLM_REFUSED;
    } else if (rc == CURLE_OPERATION_TIMEDOUT && s->cut_by_deadline) {
        char why[128], prev[sizeof job->error];
        deadline_reason(cfg, why, sizeof why);   /* the same words as when the loop sees the deadline first */
        snprintf(prev, sizeof prev, "%s", job->error);
        if (prev[0]) snprintf(job->error, sizeof job->error, "%.300s; then %s", prev, why);
        else snprintf(job->error, sizeof job->error, "%s", why);
        settle(cfg, s, CIV_LLM_DEADLINE, tn, stats);
        return 1;
    } else if (rc != CURLE_OK) {
        snprintf(job->error, sizeof job->error, "%s", curl_easy_strerror(rc));
    } else if (status >= 300 && status < 400) {
        snprintf(job->error, sizeof job->error, "HTTP %ld redirect to %s: civitas does not follow redirects; set "
                 "base_url to the address the server answers on", status, redirect ? redirect : "(no Location)");
        final = CIV_LLM_CONFIG;
    } else {
        http_error(status, s->buf, job->error, sizeof job->error);
        if (status == 401 || status == 403 || status == 404 || status == 405) final = CIV_LLM_CONFIG;
        else if (!retryable(status)) final = CIV_LLM_REFUSED;   /* e.g. 400: asking again cannot help */
    }
    if (final != CIV_LLM_GAVE_UP) {
        settle(cfg, s, final, tn, stats);
        return 1;
    }
    if (job->attempts > cfg->max_retries) {
        char tmp[sizeof job->error];
        snprintf(tmp, sizeof tmp, "%s", job->error);
        snprintf(job->error, sizeof job->error, "%.400s (gave up after %d attempts)", tmp, job->attempts);
        settle(cfg, s, CIV_LLM_GAVE_UP, tn, stats);
        return 1;
    }
    double wait = cfg->backoff_s;
    for (int k = 1; k < job->attempts; k++) wait *= 2;
    int by_server = (double)retry_after > wait;
    if (by_server) wait = (double)retry_after;
    if (tn + wait > cfg->deadline_at) {   /* waiting cannot end in an answer before the deadline */
        char tmp[sizeof job->error];
        snprintf(tmp, sizeof tmp, "%s", job->error);
        snprintf(job->error, sizeof job->error, "%.300s; the next try (in %.3g s%s) would pass the refresh deadline "
                 "(deadline_s = %g)", tmp, wait, by_server ? ", as Retry-After asks" : "", cfg->deadline_s);
        settle(cfg, s, CIV_LLM_DEADLINE, tn, stats);
        return 1;
    }
    s->next_at = tn + wait;
    s->state = 0;
    stats->retries++;
    return 0;
}

int civ_llm_run_batch(const civ_llm_client_config *cfg, civ_llm_job *jobs, int n, civ_llm_batch_stats *stats)
{
    static int curl_ready = 0;
    if (!curl_ready) { curl_global_init(CURL_GLOBAL_DEFAULT); curl_ready = 1; }
    memset(stats, 0, sizeof *stats);
    char url[1024];
    civ_llm_chat_url(cfg->base_url, url, sizeof url);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->concurrency);
    slot *slots = calloc((size_t)n + 1, sizeof *slots);
    for (int i = 0; i < n; i++) {
        civ_llm_job *j = &jobs[i];
        slots[i].job = j;
        j->content = NULL; j->error[0] = 0; j->finish_reason[0] = 0; j->outcome = CIV_LLM_ANSWERED;
        j->http_status = 0; j->attempts = 0; j->invalid_utf8 = 0; j->prompt_tokens = j->completion_tokens = -1;
        j->latency_s = 0;
    }
    const double t0 = civ_llm_now();
    int done = 0, in_flight = 0;
    char why[600];
    while (done < n) {
        double t = civ_llm_now();
        if (cfg->cancel && *cfg->cancel) {
            done += end_open_jobs(multi, cfg, slots, n, CIV_LLM_CANCELLED, "interrupted", t, stats);
            stats->interrupted = 1;
            break;
        }
        if (t >= cfg->deadline_at) {
            deadline_reason(cfg, why, sizeof why);
            done += end_open_jobs(multi, cfg, slots, n, CIV_LLM_DEADLINE, why, t, stats);
            break;
        }
        for (int i = 0; i < n && in_flight < cfg->concurrency; i++)
            if (slots[i].state == 0 && slots[i].next_at <= t) { start(multi, cfg, url, &slots[i], t); in_flight++; stats->requests++; }
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        const civ_llm_job *config_error = NULL;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long status = 0;
            curl_off_t retry_after = 0;
            char *redirect = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RETRY_AFTER, &retry_after);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_REDIRECT_URL, &redirect);
            char target[512] = "";
            if (redirect) snprintf(target, sizeof target, "%s", redirect);   /* owned by the handle */
            CURLcode rc = msg->data.result;
            finish_handle(multi, s);
            in_flight--;
            if (on_transfer_done(cfg, s, rc, status, retry_after, redirect ? target : NULL, civ_llm_now(), stats)) {
                done++;
                if (s->job->outcome == CIV_LLM_CONFIG && !config_error) config_error = s->job;
            }
        }
        if (config_error) {   /* every other request would meet the same error */
            snprintf(why, sizeof why, "not sent: %s", config_error->error);
            done += end_open_jobs(multi, cfg, slots, n, CIV_LLM_NOT_SENT, why, civ_llm_now(), stats);
            break;
        }
        if (done == n) break;
        /* wait for socket activity, but not past the moment a queued request may start: a request that
           just finished frees a slot for the next one at once (no fixed sleep per request) */
        double tn = civ_llm_now(), next_start = cfg->deadline_at;
        for (int i = 0; i < n; i++)
            if (slots[i].state == 0 && slots[i].next_at < next_start) next_start = slots[i].next_at;
        int wait_ms = 20;   /* also how often the cancel flag and the deadline are looked at */
        if (in_flight < cfg->concurrency) {
            double until = (next_start - tn) * 1000.0;
            wait_ms = until <= 0 ? 0 : until < 20 ? (int)until + 1 : 20;
        }
        if (wait_ms > 0) curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
    }
    for (int i = 0; i < n; i++) { free(slots[i].buf); if (slots[i].easy) finish_handle(multi, &slots[i]); }
    free(slots);
    curl_multi_cleanup(multi);
    stats->wall_s = civ_llm_now() - t0;
    return 0;
}
