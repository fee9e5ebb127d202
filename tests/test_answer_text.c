/* What the LLM bridge does to the text a server sends, byte by byte: the API
 * key redacted, invalid UTF-8 replaced and counted (malformed sequences of
 * every kind, a character cut at the end), and the one answer-extraction rule
 * (a <think> block, fences, prose, braces inside strings, a decoy object). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_bridge/answer.h"
#include "llm_bridge/text_clean.h"

static void expect_clean(const char *in, const char *secret, const char *want, int want_replaced)
{
    int replaced = 0;
    char *out = civ_text_clean(in, secret, &replaced);
    assert_string_equal(out, want);
    assert_int_equal(replaced, want_replaced);
    free(out);
}

static void test_redaction(void **state)
{
    (void)state;
    expect_clean("Incorrect API key provided: sk-abc123; header Bearer sk-abc123.", "sk-abc123",
                 "Incorrect API key provided: [redacted]; header Bearer [redacted].", 0);
    expect_clean("sk-abc123sk-abc123", "sk-abc123", "[redacted][redacted]", 0);
    expect_clean("sk-abc12 is not the key", "sk-abc123", "sk-abc12 is not the key", 0);
    expect_clean("a b c", "abc", "a b c", 0);           /* shorter than CIV_REDACT_MIN_KEY: left alone */
    expect_clean("keyless", NULL, "keyless", 0);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    const char *fffd = "\xEF\xBF\xBD";
    char want[64];
    expect_clean("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", NULL, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 0);
    snprintf(want, sizeof want, "a%s%sb", fffd, fffd);
    expect_clean("a\xFF\xFE" "b", NULL, want, 2);                  /* bytes that never occur in UTF-8 */
    snprintf(want, sizeof want, "%s%s/", fffd, fffd);
    expect_clean("\xC0\xAF/", NULL, want, 2);                      /* overlong '/' */
    snprintf(want, sizeof want, "%s%s%s", fffd, fffd, fffd);
    expect_clean("\xED\xA0\x80", NULL, want, 3);                   /* a UTF-16 surrogate */
    snprintf(want, sizeof want, "x%s%s", fffd, fffd);
    expect_clean("x\xE2\x82", NULL, want, 2);                      /* a character cut at the end */
    snprintf(want, sizeof want, "%s%s%s%s", fffd, fffd, fffd, fffd);
    expect_clean("\xF4\x90\x80\x80", NULL, want, 4);               /* above U+10FFFF */

    char buf[8] = "ab\xE2\x82\xAC\xE2\x82";                         /* "ab€" and a cut character, 7 bytes */
    civ_utf8_trim_partial(buf);
    assert_string_equal(buf, "ab\xE2\x82\xAC");
    civ_utf8_trim_partial(buf);                                    /* complete: unchanged */
    assert_string_equal(buf, "ab\xE2\x82\xAC");
}

static void expect_answer(const char *content, float go, int extracted)
{
    civ_answer a;
    assert_int_equal(civ_answer_read(content, 0, 300, &a), 0);
    assert_null(a.why);
    assert_true(a.p[1] == go);
    assert_int_equal(a.extracted, extracted);
}

static void expect_rejected(const char *content, int cut_off, const char *why)
{
    civ_answer a;
    assert_int_equal(civ_answer_read(content, cut_off, 300, &a), -1);
    assert_non_null(a.why);
    if (!strstr(a.why, why)) fail_msg("'%s' does not contain '%s'", a.why, why);
    free(a.why);
}

#define GOOD "{\"isolate_if_symptomatic\": 0.9, \"go_to_work\": 0.25, \"comply_isolation\": 0.8, \"reasoning\": \"x\"}"

static void test_extraction_rule(void **state)
{
    (void)state;
    expect_answer(GOOD, 0.25f, 0);
    expect_answer("\n  " GOOD "\n", 0.25f, 0);
    expect_answer("```json\n" GOOD "\n```", 0.25f, 1);
    expect_answer("Here you go: " GOOD " Hope this helps.", 0.25f, 1);
    expect_answer("<think>maybe {\"go_to_work\": 0.99}</think>" GOOD, 0.25f, 1);
    /* braces inside strings do not end the object */
    expect_answer("{\"reasoning\": \"a } and a {\", \"isolate_if_symptomatic\": 1, \"go_to_work\": 0, "
                  "\"comply_isolation\": 0}", 0.0f, 0);
    /* the first complete object is the answer, even when a later one would pass */
    expect_rejected("{\"go_to_work\": 0.5} " GOOD, 0, "lacks a number 'isolate_if_symptomatic'");
    /* a brace that starts no object is skipped */
    expect_answer("Use {curly} braces: " GOOD, 0.25f, 1);
    expect_rejected("<think>never closed " GOOD, 0, "reasoning block <think> is never closed");
    expect_rejected("I think they would stay home.", 0, "answer is not a JSON object");
    expect_rejected("{\"isolate_if_symptomatic\": 0.9, \"go_", 1, "raise behavior.llm.max_tokens");
    expect_rejected("[0.9, 0.2, 0.8]", 0, "answer is not a JSON object");
    expect_rejected("{\"isolate_if_symptomatic\": 0.9, \"go_to_work\": 1.7, \"comply_isolation\": 0.8}", 0,
                    "go_to_work = 1.7, outside [0, 1]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_extraction_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
