#include "llm_bridge/llm_client.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    civ_llm_job *job;
    CURL *easy;
    struct curl_slist *headers;
    char *buf;
    size_t len, cap;
    double first_sent, next_at;   /* next_at: earliest time of the next attempt */
    int state;                    /* 0 waiting, 1 in flight, 2 done */
    int too_big;                  /* the response passed CIV_LLM_MAX_RESPONSE: transfer aborted */
} slot;

/* A chat completion of at most 32768 tokens is well under 1 MiB; a larger body is not one, and is
 * cut off rather than held in memory until the timeout. */
#define CIV_LLM_MAX_RESPONSE ((size_t)16 << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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

static int retryable(int status) { return status == 0 || status == 408 || status == 429 || status >= 500; }

/* Extracts choices[0].message.content; NULL with a reason otherwise. */
static char *extract_content(const char *body, char *why, size_t why_len)
{
    cJSON *j = cJSON_Parse(body);
    if (!j) { snprintf(why, why_len, "response is not JSON"); return NULL; }
    cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    cJSON *msg = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;
    cJSON *content = msg ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;
    char *out = NULL;
    if (cJSON_IsString(content)) out = strdup(content->valuestring);
    else snprintf(why, why_len, "response has no choices[0].message.content");
    cJSON_Delete(j);
    return out;
}

/* "HTTP <status>" with the server's reason when the body carries one (OpenAI-style {"error": {"message"}},
 * {"error": "..."}, or a short plain-text body), e.g. the unknown model name behind a 404. */
static void http_error(long status, const char *body, char *out, size_t out_len)
{
    char detail[200] = "";
    cJSON *j = body && *body ? cJSON_Parse(body) : NULL;
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
    if (cJSON_IsString(m)) snprintf(detail, sizeof detail, "%s", m->valuestring);
    else if (!j && body && *body && strlen(body) < sizeof detail) snprintf(detail, sizeof detail, "%s", body);
    cJSON_Delete(j);
    for (char *p = detail; *p; p++) if (*p == '\n' || *p == '\r') *p = ' ';
    if (detail[0]) snprintf(out, out_len, "HTTP %ld: %s", status, detail);
    else snprintf(out, out_len, "HTTP %ld", status);
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
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->job->body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)(cfg->timeout_s * 1000));
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(cfg->timeout_s * 1000));
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

int civ_llm_run_batch(const civ_llm_client_config *cfg, civ_llm_job *jobs, int n, civ_llm_batch_stats *stats)
{
    static int curl_ready = 0;
    if (!curl_ready) { curl_global_init(CURL_GLOBAL_DEFAULT); curl_ready = 1; }
    memset(stats, 0, sizeof *stats);
    char url[1024];
    size_t bl = strlen(cfg->base_url);
    snprintf(url, sizeof url, "%.*s/v1/chat/completions", (int)(bl && cfg->base_url[bl - 1] == '/' ? bl - 1 : bl),
             cfg->base_url);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->concurrency);
    slot *slots = calloc((size_t)n + 1, sizeof *slots);
    for (int i = 0; i < n; i++) {
        slots[i].job = &jobs[i];
        jobs[i].content = NULL; jobs[i].error[0] = 0; jobs[i].http_status = 0; jobs[i].attempts = 0;
    }
    const double t0 = now_s(), deadline = t0 + cfg->deadline_s;
    int done = 0, in_flight = 0;
    while (done < n) {
        double t = now_s();
        if (t > deadline) {
            for (int i = 0; i < n; i++) {
                if (slots[i].state == 2) continue;
                if (slots[i].state == 1) { finish_handle(multi, &slots[i]); in_flight--; }
                snprintf(jobs[i].error, sizeof jobs[i].error, "refresh deadline of %.0f s passed", cfg->deadline_s);
                slots[i].state = 2;
                stats->failures++;
                done++;
            }
            break;
        }
        for (int i = 0; i < n && in_flight < cfg->concurrency; i++)
            if (slots[i].state == 0 && slots[i].next_at <= t) { start(multi, cfg, url, &slots[i], t); in_flight++; stats->requests++; }
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            civ_llm_job *job = s->job;
            long status = 0;
            curl_off_t retry_after = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RETRY_AFTER, &retry_after);
            CURLcode rc = msg->data.result;
            finish_handle(multi, s);
            in_flight--;
            job->http_status = (int)status;
            double tn = now_s();
            if (rc == CURLE_OK && status == 200) {
                job->content = extract_content(s->buf ? s->buf : "", job->error, sizeof job->error);
                job->latency_s = tn - s->first_sent;
                if (!job->content) stats->failures++;
                s->state = 2;
                done++;
                continue;
            }
            if (s->too_big)
                snprintf(job->error, sizeof job->error, "response larger than %zu MiB (not a chat completion)",
                         CIV_LLM_MAX_RESPONSE >> 20);
            else if (rc != CURLE_OK) snprintf(job->error, sizeof job->error, "%s", curl_easy_strerror(rc));
            else http_error(status, s->buf, job->error, sizeof job->error);
            /* e.g. 400, 401, 404, or an oversized body: retrying cannot help */
            if (s->too_big || (rc == CURLE_OK && !retryable((int)status))) {
                s->state = 2; stats->failures++; done++;
                continue;
            }
            if (job->attempts > cfg->max_retries) {
                char tmp[sizeof job->error];
                snprintf(tmp, sizeof tmp, "%s", job->error);
                snprintf(job->error, sizeof job->error, "%.200s (gave up after %d attempts)", tmp, job->attempts);
                s->state = 2; stats->failures++; done++;
                continue;
            }
            double wait = cfg->backoff_s;
            for (int k = 1; k < job->attempts; k++) wait *= 2;
            if ((double)retry_after > wait) wait = (double)retry_after;
            s->next_at = tn + wait;
            s->state = 0;
            stats->retries++;
        }
        if (done == n) break;
        /* wait for socket activity, but not past the moment a queued request may start: a request that
           just finished frees a slot for the next one at once (no fixed sleep per request) */
        double tn = now_s(), next_start = deadline;
        for (int i = 0; i < n; i++)
            if (slots[i].state == 0 && slots[i].next_at < next_start) next_start = slots[i].next_at;
        int wait_ms = 20;
        if (in_flight < cfg->concurrency) {
            double until = (next_start - tn) * 1000.0;
            wait_ms = until <= 0 ? 0 : until < 20 ? (int)until + 1 : 20;
        }
        if (wait_ms > 0) curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
    }
    for (int i = 0; i < n; i++) { free(slots[i].buf); if (slots[i].easy) finish_handle(multi, &slots[i]); }
    free(slots);
    curl_multi_cleanup(multi);
    stats->wall_s = now_s() - t0;
    return 0;
}
