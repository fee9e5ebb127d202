/* OpenAI-compatible chat-completions client over libcurl's multi interface:
 * many requests in flight (servers batch concurrent requests), a timeout per
 * request, retries with exponential backoff on 408/429/5xx and connection
 * errors (Retry-After honoured as the minimum wait), and a deadline for the
 * whole batch so a simulation never hangs on a server. */
#ifndef CIV_LLM_CLIENT_H
#define CIV_LLM_CLIENT_H

#include <stddef.h>

typedef struct {
    const char *base_url;      /* e.g. http://127.0.0.1:8000 (the client appends /v1/chat/completions) */
    const char *api_key;       /* may be NULL; never logged */
    int concurrency;           /* requests in flight */
    double timeout_s;          /* per attempt */
    int max_retries;           /* retries after the first attempt */
    double backoff_s;          /* first backoff; doubles each retry */
    double deadline_s;         /* for the whole batch */
} civ_llm_client_config;

typedef struct {
    char *body;                /* request JSON (owned by the caller) */
    /* results */
    char *content;             /* choices[0].message.content (malloc'd) or NULL */
    char error[256];           /* why there is no content */
    int http_status;           /* last HTTP status (0: no response) */
    int attempts;
    double latency_s;          /* from first send to final answer */
} civ_llm_job;

typedef struct {
    int requests, retries, failures;
    double wall_s;
} civ_llm_batch_stats;

/* Runs every job; returns 0 when the batch ran (individual jobs may have failed). */
int civ_llm_run_batch(const civ_llm_client_config *cfg, civ_llm_job *jobs, int n, civ_llm_batch_stats *stats);

#endif
