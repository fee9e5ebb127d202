#include "answer_cache.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

uint64_t civ_cache_key(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) { h ^= (uint8_t)*s; h *= 0x100000001b3ull; }
    return h ? h : 1;
}

static void insert(civ_answer_cache *c, uint64_t key, char *content, char *error)
{
    if (2 * (c->count + 1) > c->cap) {
        size_t ncap = c->cap ? 2 * c->cap : 1024;
        civ_cache_entry *ns = civ_xcalloc(ncap, sizeof *ns);
        for (size_t i = 0; i < c->cap; i++)
            if (c->slots[i].key) {
                size_t j = c->slots[i].key & (ncap - 1);
                while (ns[j].key) j = (j + 1) & (ncap - 1);
                ns[j] = c->slots[i];
            }
        free(c->slots);
        c->slots = ns;
        c->cap = ncap;
    }
    size_t j = key & (c->cap - 1);
    while (c->slots[j].key && c->slots[j].key != key) j = (j + 1) & (c->cap - 1);
    if (c->slots[j].key) {            /* later lines win: a success replaces a recorded failure */
        free(c->slots[j].content);
        free(c->slots[j].error);
    } else {
        c->count++;
    }
    c->slots[j].key = key;
    c->slots[j].content = content;
    c->slots[j].error = error;
}

civ_status civ_cache_open(civ_answer_cache *c, const char *path, int must_exist, int writable, civ_error *err)
{
    memset(c, 0, sizeof *c);
    c->path = strdup(path);
    FILE *f = fopen(path, "r");
    if (!f && must_exist) return civ_fail(err, CIV_ERR_INPUT, "%s: cannot open LLM answer file: %m", path);
    if (f) {
        char *line = NULL;
        size_t n = 0;
        int lineno = 0;
        while (getline(&line, &n, f) > 0) {
            lineno++;
            cJSON *j = cJSON_Parse(line);
            cJSON *k = j ? cJSON_GetObjectItemCaseSensitive(j, "key") : NULL;
            cJSON *ct = j ? cJSON_GetObjectItemCaseSensitive(j, "content") : NULL;
            cJSON *er = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
            uint64_t key = 0;
            if (!cJSON_IsString(k) || sscanf(k->valuestring, "%" SCNx64, &key) != 1 || !key ||
                (!cJSON_IsString(ct) && !cJSON_IsString(er))) {
                cJSON_Delete(j);
                free(line);
                fclose(f);
                return civ_fail(err, CIV_ERR_INPUT, "%s:%d: not an LLM answer record (expected {\"key\", \"content\"|\"error\", ...})",
                                path, lineno);
            }
            insert(c, key, cJSON_IsString(ct) ? strdup(ct->valuestring) : NULL,
                   cJSON_IsString(er) ? strdup(er->valuestring) : NULL);
            cJSON_Delete(j);
        }
        free(line);
        fclose(f);
    }
    if (writable) {
        c->append = fopen(path, "a");
        if (!c->append) return civ_fail(err, CIV_ERR_IO, "%s: cannot write LLM answer file: %m", path);
    }
    return CIV_OK;
}

const civ_cache_entry *civ_cache_get(const civ_answer_cache *c, uint64_t key)
{
    if (!c->cap) return NULL;
    size_t j = key & (c->cap - 1);
    while (c->slots[j].key) {
        if (c->slots[j].key == key) return &c->slots[j];
        j = (j + 1) & (c->cap - 1);
    }
    return NULL;
}

void civ_cache_put(civ_answer_cache *c, uint64_t key, const char *request, const char *content, const char *error)
{
    insert(c, key, content ? strdup(content) : NULL, error ? strdup(error) : NULL);
    if (!c->append) return;
    cJSON *j = cJSON_CreateObject();
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, key);
    cJSON_AddStringToObject(j, "key", hex);
    cJSON *req = cJSON_Parse(request);
    if (req) cJSON_AddItemToObject(j, "request", req);
    if (content) cJSON_AddStringToObject(j, "content", content);
    if (error) cJSON_AddStringToObject(j, "error", error);
    char *line = cJSON_PrintUnformatted(j);
    fprintf(c->append, "%s\n", line);
    cJSON_free(line);
    cJSON_Delete(j);
}

void civ_cache_close(civ_answer_cache *c)
{
    for (size_t i = 0; i < c->cap; i++) { free(c->slots[i].content); free(c->slots[i].error); }
    free(c->slots);
    if (c->append) fclose(c->append);
    free(c->path);
    memset(c, 0, sizeof *c);
}
