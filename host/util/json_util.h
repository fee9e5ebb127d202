/* Reading validated values out of cJSON trees. Every getter names the file,
 * the JSON path and the offending value in its error message. */
#ifndef CIV_JSON_UTIL_H
#define CIV_JSON_UTIL_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "host/util/error.h"

typedef struct {
    const char *file;  /* shown in messages */
    civ_error *err;
} civ_jctx;

/* Loads and parses a JSON file; the error gives line and column. */
civ_status civ_json_load(const char *path, cJSON **out, civ_error *err);

/* RFC 7386 merge patch: objects merge recursively, null deletes, others replace. */
void civ_json_merge_patch(cJSON *target, const cJSON *patch);

/* Rejects keys of obj not in allowed (NULL-terminated). */
civ_status civ_json_check_keys(civ_jctx *c, const cJSON *obj, const char *path,
                               const char *const *allowed);

/* obj must be an object; path names it. */
civ_status civ_json_object(civ_jctx *c, const cJSON *parent, const char *path,
                           const char *key, bool required, const cJSON **out);
civ_status civ_json_number(civ_jctx *c, const cJSON *obj, const char *path,
                           const char *key, double lo, double hi, bool required,
                           double *out);
civ_status civ_json_int(civ_jctx *c, const cJSON *obj, const char *path,
                        const char *key, long lo, long hi, bool required, long *out);
civ_status civ_json_bool(civ_jctx *c, const cJSON *obj, const char *path,
                         const char *key, bool required, bool *out);
civ_status civ_json_string(civ_jctx *c, const cJSON *obj, const char *path,
                           const char *key, bool required, const char **out);
/* A YYYY-MM-DD string as a day number. */
civ_status civ_json_date(civ_jctx *c, const cJSON *obj, const char *path,
                         const char *key, bool required, int *out);
/* Array of numbers in [lo,hi]; want_len < 0 accepts 1..max_len entries. */
civ_status civ_json_numbers(civ_jctx *c, const cJSON *obj, const char *path,
                            const char *key, double lo, double hi, int want_len,
                            int max_len, bool required, double *out, int *len);

/* Short rendering of a JSON value for messages (static buffer). */
const char *civ_json_repr(const cJSON *v);

#endif
