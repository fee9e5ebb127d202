/* Every request/answer pair, keyed by a 64-bit FNV-1a hash of the canonical
 * request JSON (model, messages, sampling parameters and seed; never the API
 * key). Stored as JSON lines so a run can be replayed with no network, and so
 * counterfactual runs reuse answers for identical prompts. */
#ifndef CIV_ANSWER_CACHE_H
#define CIV_ANSWER_CACHE_H

#include <stdint.h>
#include <stdio.h>

#include "host/util/error.h"

/* Record flags (JSON fields "final": true and "finish_reason": "length"). */
enum {
    CIV_CACHE_FINAL = 1,     /* a failure that asking again cannot change (refused request, configuration error,
                                refresh deadline): the bridge does not re-ask it in a validation round */
    CIV_CACHE_CUT_OFF = 2    /* the server cut the answer off at max_tokens */
};

typedef struct {
    uint64_t key;
    char *content;   /* answer text, or NULL for a recorded failure */
    char *error;     /* failure reason, or NULL */
    unsigned flags;  /* CIV_CACHE_* */
} civ_cache_entry;

typedef struct {
    civ_cache_entry *slots;   /* open addressing, key 0 = empty */
    size_t cap, count;
    char *path;
    int writable;             /* fd is open for appending new entries (O_APPEND, one locked write per line) */
    int fd;
    int write_failed;         /* an append failed (warned once) */
} civ_answer_cache;

uint64_t civ_cache_key(const char *canonical_request);
/* Loads path if it exists (missing is fine unless must_exist; a truncated last line, left by a killed
 * run, is ignored with a notice); opens it for appending if writable. Several processes may append to
 * one file at once. */
civ_status civ_cache_open(civ_answer_cache *c, const char *path, int must_exist, int writable, civ_error *err);
const civ_cache_entry *civ_cache_get(const civ_answer_cache *c, uint64_t key);
/* Stores and appends one line (request kept in the file for inspection). */
void civ_cache_put(civ_answer_cache *c, uint64_t key, const char *request, const char *content, const char *error);
void civ_cache_put_flags(civ_answer_cache *c, uint64_t key, const char *request, const char *content,
                         const char *error, unsigned flags);
void civ_cache_close(civ_answer_cache *c);

#endif
