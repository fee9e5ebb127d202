/* Every string a server sends passes through here before civitas stores or
 * prints it: the API key (and so its "Bearer <key>" form) is replaced by
 * "[redacted]", a server that echoes request headers back cannot get the key
 * into the output file, the cache or the terminal; and bytes that are not
 * valid UTF-8 are replaced by U+FFFD (and counted), because the HDF5 strings
 * and the JSON cache are declared UTF-8 and readers fail on anything else. */
#ifndef CIV_TEXT_CLEAN_H
#define CIV_TEXT_CLEAN_H

#include <stddef.h>

/* Keys shorter than this are not redacted: replacing a 1-3 character string would mangle every answer. */
#define CIV_REDACT_MIN_KEY 4

/* Returns a malloc'd copy of s with `secret` redacted (when set and long enough) and invalid UTF-8
 * replaced; *replaced (if given) grows by the number of invalid bytes. */
char *civ_text_clean(const char *s, const char *secret, int *replaced);
/* The same, in place in a buffer of n bytes (cut at a character boundary if the result is longer). */
void civ_text_clean_into(char *buf, size_t n, const char *secret, int *replaced);
/* Drops a multibyte character cut in two at the end of s (left by truncating it to a buffer's size). */
void civ_utf8_trim_partial(char *s);
/* printf into a malloc'd string. */
char *civ_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
