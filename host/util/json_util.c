#include "host/util/json_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/date.h"
#include "host/util/file.h"
#include "host/util/json_strict.h"

civ_status civ_json_load(const char *path, cJSON **out, civ_error *err)
{
    size_t len = 0;
    char *text = civ_read_input(path, "JSON file", CIV_MAX_JSON_BYTES, &len, err);
    if (!text) return err->status;
    const char *nul = memchr(text, 0, len);
    if (nul || len == 0) {
        int line = 1;
        for (const char *p = text; p < nul; p++) line += *p == '\n';
        if (nul) civ_fail(err, CIV_ERR_INPUT, "%s:%d: the file holds a NUL byte (not a text file?)", path, line);
        else civ_fail(err, CIV_ERR_INPUT, "%s: the file is empty (expected a JSON object)", path);
        free(text);
        return err->status;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        if (!at) at = text;
        int line = 1, col = 1;
        for (const char *p = text; p < at && *p; p++) {
            if (*p == '\n') { line++; col = 1; } else col++;
        }
        char near[32] = {0};
        snprintf(near, sizeof near, "%.20s", at);
        for (char *p = near; *p; p++) if (*p == '\n' || *p == '\r') *p = ' ';
        civ_fail(err, CIV_ERR_INPUT, "%s:%d:%d: malformed JSON near '%s'", path, line, col, near);
        free(text);
        return err->status;
    }
    civ_status st = civ_json_check_strict(path, text, len, err);
    free(text);
    if (st) {
        cJSON_Delete(root);
        return st;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return civ_fail(err, CIV_ERR_INPUT, "%s: top level must be a JSON object", path);
    }
    *out = root;
    return CIV_OK;
}

void civ_json_merge_patch(cJSON *target, const cJSON *patch)
{
    for (const cJSON *p = patch->child; p; p = p->next) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(target, p->string);
        if (cJSON_IsNull(p)) {
            if (t) cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
        } else if (cJSON_IsObject(p) && t && cJSON_IsObject(t)) {
            civ_json_merge_patch(t, p);
        } else {
            cJSON *copy = cJSON_Duplicate(p, 1);
            if (t) cJSON_ReplaceItemInObjectCaseSensitive(target, p->string, copy);
            else cJSON_AddItemToObject(target, p->string, copy);
        }
    }
}

const char *civ_json_repr(const cJSON *v)
{
    static char buf[96];
    if (!v) return "(missing)";
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return "?";
    if (strlen(s) > 80) { s[77] = '.'; s[78] = '.'; s[79] = '.'; s[80] = 0; }
    snprintf(buf, sizeof buf, "%s", s);
    cJSON_free(s);
    return buf;
}

static void join(char *out, size_t n, const char *path, const char *key)
{
    if (path && *path) snprintf(out, n, "%s.%s", path, key);
    else snprintf(out, n, "%s", key);
}

civ_status civ_json_check_keys(civ_jctx *c, const cJSON *obj, const char *path,
                               const char *const *allowed)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, it->string) == 0) { ok = true; break; }
        if (!ok) {
            char full[256], list[512] = "";
            join(full, sizeof full, path, it->string);
            for (const char *const *a = allowed; *a; a++) {
                strncat(list, *a, sizeof list - strlen(list) - 1);
                if (a[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: unknown key '%s' (allowed here: %s)",
                            c->file, full, list);
        }
    }
    return CIV_OK;
}

static const cJSON *member(civ_jctx *c, const cJSON *obj, const char *path,
                           const char *key, bool required, char *full, size_t n)
{
    join(full, n, path, key);
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!v && required)
        civ_fail(c->err, CIV_ERR_INPUT, "%s: missing required field '%s'", c->file, full);
    return v;
}

civ_status civ_json_object(civ_jctx *c, const cJSON *parent, const char *path,
                           const char *key, bool required, const cJSON **out)
{
    char full[256];
    const cJSON *v = member(c, parent, path, key, required, full, sizeof full);
    *out = NULL;
    if (!v) return required ? c->err->status : CIV_OK;
    if (!cJSON_IsObject(v))
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an object, got %s",
                        c->file, full, civ_json_repr(v));
    *out = v;
    return CIV_OK;
}

civ_status civ_json_number(civ_jctx *c, const cJSON *obj, const char *path,
                           const char *key, double lo, double hi, bool required,
                           double *out)
{
    char full[256];
    const cJSON *v = member(c, obj, path, key, required, full, sizeof full);
    if (!v) return required ? c->err->status : CIV_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be a number, got %s",
                        c->file, full, civ_json_repr(v));
    if (v->valuedouble < lo || v->valuedouble > hi)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' = %g is out of range [%g, %g]",
                        c->file, full, v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return CIV_OK;
}

civ_status civ_json_int(civ_jctx *c, const cJSON *obj, const char *path,
                        const char *key, long lo, long hi, bool required, long *out)
{
    char full[256];
    const cJSON *v = member(c, obj, path, key, required, full, sizeof full);
    if (!v) return required ? c->err->status : CIV_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an integer, got %s",
                        c->file, full, civ_json_repr(v));
    if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' = %s is out of range [%ld, %ld]",
                        c->file, full, civ_json_repr(v), lo, hi);
    *out = (long)v->valuedouble;
    return CIV_OK;
}

civ_status civ_json_bool(civ_jctx *c, const cJSON *obj, const char *path,
                         const char *key, bool required, bool *out)
{
    char full[256];
    const cJSON *v = member(c, obj, path, key, required, full, sizeof full);
    if (!v) return required ? c->err->status : CIV_OK;
    if (!cJSON_IsBool(v))
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be true or false, got %s",
                        c->file, full, civ_json_repr(v));
    *out = cJSON_IsTrue(v);
    return CIV_OK;
}

civ_status civ_json_string(civ_jctx *c, const cJSON *obj, const char *path,
                           const char *key, bool required, const char **out)
{
    char full[256];
    const cJSON *v = member(c, obj, path, key, required, full, sizeof full);
    if (!v) return required ? c->err->status : CIV_OK;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be a non-empty string, got %s",
                        c->file, full, civ_json_repr(v));
    *out = v->valuestring;
    return CIV_OK;
}

civ_status civ_json_date(civ_jctx *c, const cJSON *obj, const char *path,
                         const char *key, bool required, int *out)
{
    const char *s = NULL;
    if (civ_json_string(c, obj, path, key, required, &s)) return c->err->status;
    if (!s) return CIV_OK;
    if (!civ_date_parse(s, out)) {
        char full[256];
        join(full, sizeof full, path, key);
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' = \"%s\" is not a valid date (YYYY-MM-DD)",
                        c->file, full, s);
    }
    return CIV_OK;
}

civ_status civ_json_numbers(civ_jctx *c, const cJSON *obj, const char *path,
                            const char *key, double lo, double hi, int want_len,
                            int max_len, bool required, double *out, int *len)
{
    char full[256];
    const cJSON *v = member(c, obj, path, key, required, full, sizeof full);
    if (!v) return required ? c->err->status : CIV_OK;
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (n < 0 || (want_len >= 0 && n != want_len) || (want_len < 0 && (n < 1 || n > max_len))) {
        if (want_len >= 0)
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an array of %d numbers, got %s",
                            c->file, full, want_len, civ_json_repr(v));
        return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s' must be an array of 1 to %d numbers, got %s",
                        c->file, full, max_len, civ_json_repr(v));
    }
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s[%d]' must be a number, got %s",
                            c->file, full, i, civ_json_repr(e));
        if (e->valuedouble < lo || e->valuedouble > hi)
            return civ_fail(c->err, CIV_ERR_INPUT, "%s: field '%s[%d]' = %g is out of range [%g, %g]",
                            c->file, full, i, e->valuedouble, lo, hi);
        out[i] = e->valuedouble;
    }
    if (len) *len = n;
    return CIV_OK;
}
