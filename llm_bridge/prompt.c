#include "llm_bridge/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const civ_prompt_placeholders[] = {"age_band", "age", "sex", "borough", "borough_name", "employment",
    "household", "date", "weekday", "week", "cases_week", "cases_per_100k", "cases_change", "unemployment_rate",
    "policies", NULL};

static int lookup(const char *name, size_t len)
{
    for (int k = 0; civ_prompt_placeholders[k]; k++)
        if (strlen(civ_prompt_placeholders[k]) == len && strncmp(civ_prompt_placeholders[k], name, len) == 0) return k;
    return -1;
}

civ_status civ_prompt_check(const char *tmpl, const char *file, civ_error *err)
{
    int line = 1;
    for (const char *p = tmpl; *p; p++) {
        if (*p == '\n') line++;
        if (*p != '{') continue;
        const char *end = strchr(p, '}');
        const char *nl = strchr(p, '\n');
        if (!end || (nl && nl < end))
            return civ_fail(err, CIV_ERR_INPUT, "%s:%d: unclosed placeholder starting '%.20s'", file, line, p);
        if (lookup(p + 1, (size_t)(end - p - 1)) < 0) {
            char list[512] = "";
            for (int k = 0; civ_prompt_placeholders[k]; k++) {
                strncat(list, civ_prompt_placeholders[k], sizeof list - strlen(list) - 1);
                if (civ_prompt_placeholders[k + 1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return civ_fail(err, CIV_ERR_INPUT, "%s:%d: unknown placeholder '{%.*s}' (known: %s)", file, line,
                            (int)(end - p - 1), p + 1, list);
        }
        p = end;
    }
    return CIV_OK;
}

char *civ_prompt_render(const char *tmpl, const civ_prompt_vars *v)
{
    size_t cap = strlen(tmpl) + 1024, len = 0;
    char *out = civ_xmalloc(cap);
    for (const char *p = tmpl; *p; p++) {
        char val[300];
        const char *ins = NULL;
        size_t skip = 0;
        if (*p == '{') {
            const char *end = strchr(p, '}');
            int k = end ? lookup(p + 1, (size_t)(end - p - 1)) : -1;
            if (k >= 0) {
                switch (k) {
                case 0: ins = v->age_band; break;
                case 1: ins = v->age_phrase; break;
                case 2: ins = v->sex; break;
                case 3: ins = v->borough; break;
                case 4: ins = v->borough_name; break;
                case 5: ins = v->employment; break;
                case 6: ins = v->household; break;
                case 7: ins = v->date; break;
                case 8: ins = v->weekday; break;
                case 9: snprintf(val, sizeof val, "%d", v->week); ins = val; break;
                case 10: snprintf(val, sizeof val, "%ld", v->cases_week); ins = val; break;
                case 11: snprintf(val, sizeof val, "%.1f", v->cases_per_100k); ins = val; break;
                case 12: ins = v->cases_change; break;
                case 13: snprintf(val, sizeof val, "%.1f", v->unemployment_rate); ins = val; break;
                default: ins = v->policies; break;
                }
                skip = (size_t)(end - p);
            }
        }
        size_t add = ins ? strlen(ins) : 1;
        if (len + add + 1 > cap) {
            cap = 2 * (len + add + 1);
            out = realloc(out, cap);
            if (!out) abort();
        }
        if (ins) { memcpy(out + len, ins, add); len += add; p += skip; }
        else out[len++] = *p;
    }
    out[len] = 0;
    return out;
}
