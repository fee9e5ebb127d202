#include "llm_bridge/answer.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "llm_bridge/text_clean.h"

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return s;
}

/* The first '{' from which a whole JSON object parses; *end: just after it. */
static cJSON *first_object(const char *s, const char **end)
{
    for (const char *p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = NULL;
        cJSON *j = cJSON_ParseWithOpts(p, &e, 0);
        if (j && cJSON_IsObject(j)) { *end = e; return j; }
        cJSON_Delete(j);
    }
    return NULL;
}

static int reject(civ_answer *out, int cut_off, int max_tokens, char *why)
{
    if (cut_off) {
        out->why = civ_strdupf("%s: the answer was cut off at max_tokens = %d (finish_reason \"length\"); "
                               "raise behavior.llm.max_tokens", why, max_tokens);
        free(why);
    } else {
        out->why = why;
    }
    return -1;
}

int civ_answer_read(const char *content, int cut_off, int max_tokens, civ_answer *out)
{
    memset(out, 0, sizeof *out);
    const char *s = skip_space(content);
    if (strncmp(s, "<think>", 7) == 0) {
        const char *close = strstr(s, "</think>");
        if (!close) return reject(out, cut_off, max_tokens, civ_strdupf("the reasoning block <think> is never closed"));
        s = close + 8;
        out->extracted = 1;
    }
    const char *end = NULL;
    cJSON *j = first_object(s, &end);
    if (!j) return reject(out, cut_off, max_tokens, civ_strdupf("answer is not a JSON object (none found in the text)"));
    if (*skip_space(s) != '{' || *skip_space(end)) out->extracted = 1;
    for (int d = 0; d < CIV_N_DECISION; d++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, civ_decision_name[d]);
        char *why = NULL;
        if (!cJSON_IsNumber(v)) why = civ_strdupf("answer lacks a number '%s'", civ_decision_name[d]);
        else if (!(v->valuedouble >= 0 && v->valuedouble <= 1))
            why = civ_strdupf("answer has %s = %g, outside [0, 1]", civ_decision_name[d], v->valuedouble);
        if (why) {
            cJSON_Delete(j);
            return reject(out, 0, max_tokens, why);
        }
        out->p[d] = (float)v->valuedouble;
    }
    cJSON_Delete(j);
    return 0;
}
