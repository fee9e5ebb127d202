/* What a JSON parser accepts but a study must not contain, found in the text (cJSON's tree has lost
 * it): a key twice in one object (parsers disagree on which value counts, so a wrong later value could
 * go unchecked), a \u0000 escape (it would cut the string short), a number beyond the range of a
 * double (it would become infinity and be shown as null), and a NUL byte in the file. Each is reported
 * with its line and column, and the field's path. */
#include "host/util/json_strict.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *text, *p, *file;
    civ_error *err;
    char path[512];
} scan;

typedef struct {
    char *key;    /* decoded */
    size_t len;
    const char *at;
} key_at;

static void where(const scan *s, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *q = s->text; q < at; q++) {
        if (*q == '\n') { (*line)++; *col = 1; }
        else if (((unsigned char)*q & 0xC0) != 0x80) (*col)++;   /* columns count characters, not UTF-8 bytes */
    }
}

static civ_status fail_at(scan *s, const char *at, const char *what)
{
    int line, col;
    where(s, at, &line, &col);
    if (!s->path[0]) return civ_fail(s->err, CIV_ERR_INPUT, "%s:%d:%d: %s", s->file, line, col, what);
    return civ_fail(s->err, CIV_ERR_INPUT, "%s:%d:%d: field '%s': %s", s->file, line, col, s->path, what);
}

static void skip_ws(scan *s)
{
    while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r') s->p++;
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v = v * 16 + (unsigned)(c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10);
    }
    return v;
}

static size_t utf8(unsigned cp, char *out)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string at s->p (on its opening quote); decoded into a malloc'd *out when out is not NULL. */
static civ_status string(scan *s, char **out, size_t *out_len)
{
    const char *start = s->p++;
    const char *end = s->p;
    while (*end != '"') end += *end == '\\' ? 2 : 1;
    char *dec = out ? civ_xmalloc((size_t)(end - s->p) + 1) : NULL;
    size_t n = 0;
    for (const char *q = s->p; q < end;) {
        if (*q != '\\') {
            if (dec) dec[n++] = *q;
            q++;
            continue;
        }
        char c = q[1];
        unsigned cp = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : (unsigned char)c;
        q += 2;
        if (c == 'u') {
            cp = hex4(q);
            q += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && q[0] == '\\' && q[1] == 'u') {
                unsigned lo = hex4(q + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); q += 6; }
            }
            if (cp == 0) {
                free(dec);
                return fail_at(s, start, "the string holds the escape \\u0000 (a NUL character), which would cut it short");
            }
        }
        if (dec) n += utf8(cp, dec + n);
    }
    if (dec) { dec[n] = 0; *out = dec; *out_len = n; }
    s->p = end + 1;
    return CIV_OK;
}

static civ_status number(scan *s)
{
    const char *start = s->p;
    errno = 0;
    char *end;
    double v = strtod(start, &end);
    s->p = end;
    if (isinf(v)) {
        char what[160];
        snprintf(what, sizeof what, "the number %.*s is beyond the range of a double (about 1.8e308)",
                 end - start > 60 ? 60 : (int)(end - start), start);
        return fail_at(s, start, what);
    }
    return CIV_OK;
}

static civ_status value(scan *s);

static int by_key(const void *a, const void *b)
{
    const key_at *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    int c = memcmp(x->key, y->key, x->len);
    if (c) return c;
    return x->at < y->at ? -1 : x->at > y->at;
}

static civ_status object(scan *s)
{
    s->p++;
    key_at *keys = NULL;
    size_t n = 0, cap = 0, path_len = strlen(s->path);
    civ_status st = CIV_OK;
    skip_ws(s);
    while (*s->p != '}' && !st) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            key_at *grown = realloc(keys, sizeof *keys * cap);
            if (!grown) { st = civ_fail(s->err, CIV_ERR_RUNTIME, "%s: out of memory", s->file); break; }
            keys = grown;
        }
        key_at *k = &keys[n];
        k->at = s->p;
        if ((st = string(s, &k->key, &k->len))) break;
        n++;
        skip_ws(s);
        s->p++;   /* ':' */
        skip_ws(s);
        snprintf(s->path + path_len, sizeof s->path - path_len, "%s%s", path_len ? "." : "", k->key);
        st = value(s);
        if (!st) s->path[path_len] = 0;
        skip_ws(s);
        if (*s->p == ',') { s->p++; skip_ws(s); }
    }
    if (!st) {
        s->p++;   /* '}' */
        if (n > 1) qsort(keys, n, sizeof *keys, by_key);
        const key_at *first = NULL, *second = NULL;   /* the pair whose repetition comes first in the text */
        for (size_t i = 1; i < n; i++)
            if (keys[i].len == keys[i - 1].len && memcmp(keys[i].key, keys[i - 1].key, keys[i].len) == 0 &&
                (!second || keys[i].at < second->at)) {
                first = &keys[i - 1];
                second = &keys[i];
                while (first > keys && first[-1].len == first->len && memcmp(first[-1].key, first->key, first->len) == 0)
                    first--;   /* the earliest occurrence of that key */
            }
        if (second) {
            int line, col;
            where(s, first->at, &line, &col);
            snprintf(s->path + path_len, sizeof s->path - path_len, "%s%s", path_len ? "." : "", second->key);
            char what[160];
            snprintf(what, sizeof what, "duplicate key, first given at line %d, column %d (a key may appear once in an "
                     "object: readers disagree on which value counts)", line, col);
            st = fail_at(s, second->at, what);
        }
    }
    for (size_t i = 0; i < n; i++) free(keys[i].key);
    free(keys);
    return st;
}

static civ_status array(scan *s)
{
    s->p++;
    size_t path_len = strlen(s->path);
    civ_status st = CIV_OK;
    skip_ws(s);
    for (long i = 0; *s->p != ']' && !st; i++) {
        snprintf(s->path + path_len, sizeof s->path - path_len, "[%ld]", i);
        st = value(s);
        if (!st) s->path[path_len] = 0;
        skip_ws(s);
        if (*s->p == ',') { s->p++; skip_ws(s); }
    }
    if (!st) s->p++;
    return st;
}

static civ_status value(scan *s)
{
    skip_ws(s);
    switch (*s->p) {
    case '{': return object(s);
    case '[': return array(s);
    case '"': return string(s, NULL, NULL);
    case 't': s->p += 4; return CIV_OK;
    case 'f': s->p += 5; return CIV_OK;
    case 'n': s->p += 4; return CIV_OK;
    default: return number(s);
    }
}

civ_status civ_json_check_strict(const char *file, const char *text, size_t len, civ_error *err)
{
    scan s = {text, text, file, err, ""};
    const char *nul = memchr(text, 0, len);
    if (nul) return fail_at(&s, nul, "the file holds a NUL byte (not a text file?)");
    return value(&s);
}
