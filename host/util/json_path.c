#include "host/util/json_path.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY 128

/* One step of a path: a key (key[0] != 0) or an array index. */
typedef struct {
    char key[MAX_KEY];
    long index;
} step;

/* Reads the step at *p and advances past it (and past a following '.'); false with why on bad syntax. */
static bool next_step(const char **p, bool first, step *s, char *why, size_t n)
{
    const char *q = *p;
    s->key[0] = 0;
    s->index = -1;
    if (*q == '[') {
        if (first) { snprintf(why, n, "must start with a key"); return false; }
        q++;
        if (!isdigit((unsigned char)*q)) { snprintf(why, n, "'[' must be followed by an index"); return false; }
        char *end;
        s->index = strtol(q, &end, 10);
        if (*end != ']' || s->index > 1000000) { snprintf(why, n, "bad array index"); return false; }
        q = end + 1;
    } else {
        size_t k = 0;
        while (*q && *q != '.' && *q != '[') {
            if (*q == ']' || isspace((unsigned char)*q)) { snprintf(why, n, "unexpected '%c'", *q); return false; }
            if (k + 1 >= MAX_KEY) { snprintf(why, n, "key longer than %d characters", MAX_KEY - 1); return false; }
            s->key[k++] = *q++;
        }
        s->key[k] = 0;
        if (!k) { snprintf(why, n, "empty key"); return false; }
    }
    if (*q == '.') {
        q++;
        if (!*q || *q == '.' || *q == '[') { snprintf(why, n, "empty key after '.'"); return false; }
    } else if (*q && *q != '[') {
        snprintf(why, n, "expected '.' or '[' after ']'");
        return false;
    }
    *p = q;
    return true;
}

bool civ_json_path_valid(const char *path, char *why, size_t why_len)
{
    if (!path || !*path) { snprintf(why, why_len, "empty path"); return false; }
    step s;
    for (const char *p = path; *p;)
        if (!next_step(&p, p == path, &s, why, why_len)) return false;
    return true;
}

void civ_json_path_head(const char *path, char *buf, size_t len)
{
    size_t k = strcspn(path, ".[");
    if (k >= len) k = len - 1;
    memcpy(buf, path, k);
    buf[k] = 0;
}

const cJSON *civ_json_path_get(const cJSON *root, const char *path)
{
    char why[128];
    const cJSON *cur = root;
    step s;
    for (const char *p = path; *p && cur;) {
        if (!next_step(&p, p == path, &s, why, sizeof why)) return NULL;
        if (s.key[0]) cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, s.key) : NULL;
        else cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, (int)s.index) : NULL;
    }
    return cur;
}

bool civ_json_path_set(cJSON *root, const char *path, double value, char *why, size_t why_len)
{
    if (!civ_json_path_valid(path, why, why_len)) return false;
    cJSON *cur = root;
    step s;
    const char *p = path;
    while (*p) {
        const char *at = p;
        if (!next_step(&p, at == path, &s, why, why_len)) return false;
        const bool last = !*p;
        size_t done = (size_t)(at - path);
        cJSON *next;
        if (s.key[0]) {
            if (!cJSON_IsObject(cur)) {
                snprintf(why, why_len, "'%.*s' is not an object", (int)(done ? done : 1), done ? path : "$");
                return false;
            }
            next = cJSON_GetObjectItemCaseSensitive(cur, s.key);
            if (!next || cJSON_IsNull(next)) {
                cJSON *made = last ? cJSON_CreateNumber(value) : cJSON_CreateObject();
                if (next) cJSON_ReplaceItemInObjectCaseSensitive(cur, s.key, made);
                else cJSON_AddItemToObject(cur, s.key, made);
                if (last) return true;
                cur = made;
                continue;
            }
        } else {
            if (!cJSON_IsArray(cur)) {
                snprintf(why, why_len, "'%.*s' is not an array", (int)done, path);
                return false;
            }
            next = cJSON_GetArrayItem(cur, (int)s.index);
            if (!next) {
                snprintf(why, why_len, "'%.*s' has %d elements, no index %ld", (int)done, path, cJSON_GetArraySize(cur),
                         s.index);
                return false;
            }
        }
        if (last) {
            if (!cJSON_IsNumber(next)) {
                snprintf(why, why_len, "the value there is not a number");
                return false;
            }
            cJSON_SetNumberValue(next, value);
            return true;
        }
        cur = next;
    }
    snprintf(why, why_len, "empty path");
    return false;
}
