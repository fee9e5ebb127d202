/* The LLM answer cache file: several processes appending at once (MPI ranks,
 * parallel runs sharing a cache) never interleave their records, a record
 * torn by a killed run is skipped with a notice instead of breaking the next
 * run, a later record of a request replaces an earlier one (an answer replaces
 * a recorded failure), and the keys are FNV-1a hashes, so files recorded by
 * earlier versions replay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "llm_bridge/answer_cache.h"

#define WRITERS 4
#define RECORDS 40
#define ANSWER_BYTES 200000   /* far beyond any stdio buffer and pipe-atomic size */

static char *temp_path(void)
{
    char *path = strdup("/tmp/civitas_cache_test_XXXXXX.jsonl");
    int fd = mkstemps(path, 6);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    return path;
}

static void test_concurrent_appends(void **state)
{
    (void)state;
    char *path = temp_path();
    char *answer = malloc(ANSWER_BYTES + 1);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            civ_answer_cache c;
            civ_error err = {0};
            if (civ_cache_open(&c, path, 0, 1, &err)) _exit(2);
            memset(answer, 'a' + w, ANSWER_BYTES);
            answer[ANSWER_BYTES] = 0;
            for (int r = 0; r < RECORDS; r++) {
                char req[64];
                snprintf(req, sizeof req, "{\"writer\": %d, \"record\": %d}", w, r);
                civ_cache_put(&c, civ_cache_key(req), req, answer, NULL);
            }
            civ_cache_close(&c);
            _exit(0);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status = 0;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    civ_answer_cache c;
    civ_error err = {0};
    if (civ_cache_open(&c, path, 1, 0, &err)) fail_msg("%s", err.msg);
    assert_int_equal(c.count, WRITERS * RECORDS);
    for (int w = 0; w < WRITERS; w++)
        for (int r = 0; r < RECORDS; r++) {
            char req[64];
            snprintf(req, sizeof req, "{\"writer\": %d, \"record\": %d}", w, r);
            const civ_cache_entry *e = civ_cache_get(&c, civ_cache_key(req));
            assert_non_null(e);
            assert_int_equal(strlen(e->content), ANSWER_BYTES);
            assert_true(e->content[0] == 'a' + w && e->content[ANSWER_BYTES - 1] == 'a' + w);
        }
    civ_cache_close(&c);
    unlink(path);
    free(path);
    free(answer);
}

static void test_torn_last_record(void **state)
{
    (void)state;
    char *path = temp_path();
    civ_answer_cache c;
    civ_error err = {0};
    if (civ_cache_open(&c, path, 0, 1, &err)) fail_msg("%s", err.msg);
    civ_cache_put(&c, civ_cache_key("{\"q\": 1}"), "{\"q\": 1}", "one", NULL);
    civ_cache_close(&c);
    FILE *f = fopen(path, "a");
    fputs("{\"key\": \"00000000000000ff\", \"conte", f);   /* a run killed mid-record */
    fclose(f);

    /* read-only: the torn record is skipped */
    if (civ_cache_open(&c, path, 1, 0, &err)) fail_msg("%s", err.msg);
    assert_int_equal(c.count, 1);
    civ_cache_close(&c);
    /* appending: the torn record is cut off, the next record starts on a line of its own */
    if (civ_cache_open(&c, path, 1, 1, &err)) fail_msg("%s", err.msg);
    civ_cache_put(&c, civ_cache_key("{\"q\": 2}"), "{\"q\": 2}", "two", NULL);
    civ_cache_close(&c);
    if (civ_cache_open(&c, path, 1, 0, &err)) fail_msg("%s", err.msg);
    assert_int_equal(c.count, 2);
    assert_string_equal(civ_cache_get(&c, civ_cache_key("{\"q\": 2}"))->content, "two");
    civ_cache_close(&c);
    f = fopen(path, "r");
    int lines = 0;
    for (int ch; (ch = fgetc(f)) != EOF;) lines += ch == '\n';
    fclose(f);
    assert_int_equal(lines, 2);

    /* a complete last record without its newline (written by hand) is kept, not cut off */
    f = fopen(path, "a");
    fputs("{\"key\": \"00000000000000aa\", \"content\": \"by hand\"}", f);
    fclose(f);
    if (civ_cache_open(&c, path, 1, 1, &err)) fail_msg("%s", err.msg);
    civ_cache_put(&c, civ_cache_key("{\"q\": 3}"), "{\"q\": 3}", "three", NULL);
    civ_cache_close(&c);
    if (civ_cache_open(&c, path, 1, 0, &err)) fail_msg("%s", err.msg);
    assert_int_equal(c.count, 4);
    assert_string_equal(civ_cache_get(&c, 0xaa)->content, "by hand");
    civ_cache_close(&c);

    /* a broken record that is not the last line is still an error naming the line */
    f = fopen(path, "a");
    fputs("not json\n{\"key\": \"0000000000000001\", \"content\": \"x\"}\n", f);
    fclose(f);
    civ_error err2 = {0};
    assert_int_not_equal(civ_cache_open(&c, path, 1, 0, &err2), CIV_OK);
    assert_non_null(strstr(err2.msg, ":5: not an LLM answer record"));
    civ_cache_close(&c);
    unlink(path);
    free(path);
}

static void test_keys_are_fnv1a(void **state)
{
    (void)state;
    /* published FNV-1a 64-bit test vectors: a recorded file's keys must keep matching */
    assert_true(civ_cache_key("a") == 0xaf63dc4c8601ec8cull);
    assert_true(civ_cache_key("foobar") == 0x85944171f73967e8ull);
    assert_true(civ_cache_key("") == 0xcbf29ce484222325ull);
}

static void test_later_record_wins(void **state)
{
    (void)state;
    char *path = temp_path();
    civ_answer_cache c;
    civ_error err = {0};
    const char *req = "{\"q\": 7}";
    const uint64_t key = civ_cache_key(req);
    if (civ_cache_open(&c, path, 0, 1, &err)) fail_msg("%s", err.msg);
    civ_cache_put(&c, key, req, NULL, "HTTP 500: overloaded");   /* a failed run */
    civ_cache_close(&c);
    if (civ_cache_open(&c, path, 1, 1, &err)) fail_msg("%s", err.msg);
    const civ_cache_entry *e = civ_cache_get(&c, key);
    assert_non_null(e);
    assert_null(e->content);
    assert_string_equal(e->error, "HTTP 500: overloaded");
    civ_cache_put(&c, key, req, "{\"go_to_work\": 0.5}", NULL);   /* asked again later, answered */
    civ_cache_close(&c);
    if (civ_cache_open(&c, path, 1, 0, &err)) fail_msg("%s", err.msg);
    assert_int_equal(c.count, 1);
    e = civ_cache_get(&c, key);
    assert_non_null(e);
    assert_string_equal(e->content, "{\"go_to_work\": 0.5}");
    assert_null(e->error);
    assert_null(civ_cache_get(&c, civ_cache_key("{\"q\": 8}")));
    civ_cache_close(&c);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_are_fnv1a),
        cmocka_unit_test(test_later_record_wins),
        cmocka_unit_test(test_concurrent_appends),
        cmocka_unit_test(test_torn_last_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
