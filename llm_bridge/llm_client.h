/* OpenAI-compatible chat-completions client over libcurl's multi interface:
 * many requests in flight (servers batch concurrent requests), a timeout per
 * attempt, retries with exponential backoff on 408/429/5xx and connection
 * errors (Retry-After honoured as the minimum wait), a deadline the batch never
 * passes (the bridge gives it the refresh's), and a cancel flag (SIGINT/SIGTERM)
 * checked every few milliseconds. Each request ends with an outcome saying
 * whether asking again could help; every string it keeps from the server is
 * cleaned (API key redacted, invalid UTF-8 replaced) first. */
#ifndef CIV_LLM_CLIENT_H
#define CIV_LLM_CLIENT_H

#include <signal.h>
#include <stddef.h>

typedef struct {
    const char *base_url;      /* e.g. http://127.0.0.1:8000, or the same ending in /v1 */
    const char *api_key;       /* may be NULL; sent as "Authorization: Bearer", redacted from everything kept */
    int concurrency;           /* requests in flight */
    double timeout_s;          /* per attempt */
    int max_retries;           /* retries after the first attempt */
    double backoff_s;          /* first backoff; doubles each retry */
    double deadline_at;        /* civ_llm_now() time by which the batch has ended, whatever is left */
    double deadline_s;         /* the same as a duration from the refresh's start (for messages) */
    const volatile sig_atomic_t *cancel;   /* set: abort everything now (may be NULL) */
} civ_llm_client_config;

typedef enum {
    CIV_LLM_ANSWERED = 0,  /* content returned (still to be validated) */
    CIV_LLM_NO_ANSWER,     /* HTTP 200 without an answer: a refusal, an error in the body, no content */
    CIV_LLM_GAVE_UP,       /* connection error, timeout, 408/429/5xx on every attempt */
    CIV_LLM_REFUSED,       /* another HTTP 4xx, or an oversized body: the request itself is refused */
    CIV_LLM_CONFIG,        /* 401/403/404/405, a redirect, or no OpenAI-compatible API at that URL */
    CIV_LLM_DEADLINE,      /* the deadline passed first (or the wait for the next try would pass it) */
    CIV_LLM_NOT_SENT,      /* not sent: another request of the batch found a configuration error */
    CIV_LLM_CANCELLED      /* the cancel flag was set */
} civ_llm_outcome;

/* Whether asking again (a validation retry with a new seed) could give another result. */
int civ_llm_outcome_reaskable(civ_llm_outcome o);

typedef struct {
    char *body;                /* request JSON (owned by the caller) */
    /* results */
    char *content;             /* choices[0].message.content (malloc'd) or NULL */
    char error[512];           /* why there is no content */
    char finish_reason[32];    /* choices[0].finish_reason, "" when absent */
    civ_llm_outcome outcome;
    int http_status;           /* last HTTP status (0: no response) */
    int attempts;
    int invalid_utf8;          /* bytes of content and error replaced */
    long prompt_tokens, completion_tokens;   /* from "usage"; -1 when the server did not report it */
    double latency_s;          /* from first send to final answer */
} civ_llm_job;

typedef struct {
    int requests, retries, failures, interrupted;
    double wall_s;
} civ_llm_batch_stats;

double civ_llm_now(void);   /* monotonic seconds */
/* The URL requests go to: base_url + /v1/chat/completions (base_url may already end in /v1). */
void civ_llm_chat_url(const char *base_url, char *out, size_t n);
/* Runs every job; returns 0 when the batch ran (individual jobs may have failed). A job ending with
 * CIV_LLM_CONFIG ends the batch: the others not yet answered end as CIV_LLM_NOT_SENT. */
int civ_llm_run_batch(const civ_llm_client_config *cfg, civ_llm_job *jobs, int n, civ_llm_batch_stats *stats);

#endif
