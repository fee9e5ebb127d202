#include "llm_bridge/text_clean.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/error.h"

static const char REDACTED[] = "[redacted]";

/* Length of the valid UTF-8 sequence starting at s (1 to 4), or 0 if the byte at s does not start one. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;   /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) { n = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) n = 3;
    else if (c == 0xED) { n = 3; hi = 0x9F; }          /* no UTF-16 surrogates */
    else if (c >= 0xEE && c <= 0xEF) n = 3;
    else if (c == 0xF0) { n = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) { n = 4; hi = 0x8F; }          /* nothing above U+10FFFF */
    else return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < n; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return n;
}

char *civ_text_clean(const char *s, const char *secret, int *replaced)
{
    if (!s) return NULL;
    size_t klen = secret ? strlen(secret) : 0;
    if (klen < CIV_REDACT_MIN_KEY) klen = 0;
    /* worst case: every byte invalid (1 -> 3 bytes); a redaction never grows the text by more than that */
    size_t len = strlen(s), cap = 3 * len + sizeof REDACTED + 1, o = 0;
    char *out = civ_xmalloc(cap);
    for (size_t i = 0; i < len;) {
        if (klen && strncmp(s + i, secret, klen) == 0) {
            memcpy(out + o, REDACTED, sizeof REDACTED - 1);
            o += sizeof REDACTED - 1;
            i += klen;
            continue;
        }
        size_t n = utf8_len((const unsigned char *)s + i);
        if (n == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);   /* U+FFFD REPLACEMENT CHARACTER */
            o += 3;
            i++;
            if (replaced) (*replaced)++;
            continue;
        }
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
    }
    out[o] = 0;
    return out;
}

void civ_text_clean_into(char *buf, size_t n, const char *secret, int *replaced)
{
    if (!n) return;
    char *c = civ_text_clean(buf, secret, replaced);
    size_t len = strlen(c);
    if (len >= n) {
        len = n - 1;
        while (len > 0 && ((unsigned char)c[len] & 0xC0) == 0x80) len--;   /* not inside a character */
    }
    memcpy(buf, c, len);
    buf[len] = 0;
    free(c);
}

void civ_utf8_trim_partial(char *s)
{
    size_t len = strlen(s), k = len;
    while (k > 0 && len - k < 4 && ((unsigned char)s[k - 1] & 0xC0) == 0x80) k--;   /* continuation bytes */
    if (k == 0) return;
    unsigned c = (unsigned char)s[k - 1];
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (need > 1 && len - (k - 1) < need) s[k - 1] = 0;
}

char *civ_strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = civ_xmalloc((size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
    va_end(ap);
    return s;
}
