#include "llm_bridge/answer_cache.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/util/file.h"

#include "text_clean.h"

/* One record holds one answer (a response is cut off at 16 MiB) and its request. */
#define CIV_CACHE_MAX_RECORD ((size_t)32 << 20)

uint64_t civ_cache_key(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) { h ^= (uint8_t)*s; h *= 0x100000001b3ull; }
    return h ? h : 1;
}

static void insert(civ_answer_cache *c, uint64_t key, char *content, char *error, unsigned flags)
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
    c->slots[j].flags = flags;
}

/* Writes all of buf at the end of the file, under an exclusive lock: processes sharing one cache
 * (MPI ranks, parallel runs) never interleave their lines. */
static int append_locked(int fd, const char *buf, size_t len)
{
    if (flock(fd, LOCK_EX) != 0) return -1;
    int rc = 0;
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { rc = -1; break; }
        buf += w;
        len -= (size_t)w;
    }
    flock(fd, LOCK_UN);
    return rc;
}

/* Ends the file on a newline. Under the exclusive lock no live writer is mid-record, so a last line
 * without one is either a record torn by a process that died while appending (cut off) or a
 * complete record written without its newline, e.g. by hand (kept, newline added). */
static int repair_tail(int fd)
{
    if (flock(fd, LOCK_EX) != 0) return -1;
    int rc = 0;
    off_t end = lseek(fd, 0, SEEK_END);
    char last = '\n';
    if (end > 0 && pread(fd, &last, 1, end - 1) != 1) rc = -1;
    if (!rc && last != '\n') {
        off_t keep = 0;
        char buf[4096];
        for (off_t pos = end; pos > 0 && !keep;) {
            size_t n = pos < (off_t)sizeof buf ? (size_t)pos : sizeof buf;
            pos -= (off_t)n;
            if (pread(fd, buf, n, pos) != (ssize_t)n) { rc = -1; break; }
            for (size_t i = n; i > 0; i--)
                if (buf[i - 1] == '\n') { keep = pos + (off_t)i; break; }
        }
        char *tail = rc ? NULL : civ_xmalloc((size_t)(end - keep) + 1);
        if (tail && pread(fd, tail, (size_t)(end - keep), keep) != (ssize_t)(end - keep)) rc = -1;
        if (!rc) {
            tail[end - keep] = 0;
            cJSON *j = cJSON_Parse(tail);
            int complete = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "key"));
            cJSON_Delete(j);
            if (complete ? write(fd, "\n", 1) != 1 : ftruncate(fd, keep) != 0) rc = -1;
        }
        free(tail);
    }
    flock(fd, LOCK_UN);
    return rc;
}

civ_status civ_cache_open(civ_answer_cache *c, const char *path, int must_exist, int writable, civ_error *err)
{
    memset(c, 0, sizeof *c);
    c->path = strdup(path);
    struct stat sb;   /* a FIFO would block the open, a device never end */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return civ_fail(err, CIV_ERR_INPUT, "%s: is %s, not an LLM answer file (civitas reads inputs only from regular "
                        "files)", path, civ_file_kind(sb.st_mode));
    civ_input_note(path);   /* no output may replace it */
    FILE *f = fopen(path, "r");
    if (!f && must_exist) return civ_fail(err, CIV_ERR_INPUT, "%s: cannot open LLM answer file: %m", path);
    if (f) {
        flock(fileno(f), LOCK_SH);   /* no half-written record of a live writer is read */
        char *line = NULL;
        size_t n = 0;
        int lineno = 0;
        ssize_t len;
        while ((len = getline(&line, &n, f)) > 0) {
            lineno++;
            if ((size_t)len > CIV_CACHE_MAX_RECORD) {
                free(line);
                fclose(f);
                return civ_fail(err, CIV_ERR_INPUT, "%s:%d: a record of %zd bytes, more than an LLM answer record may "
                                "hold (%zu MiB)", path, lineno, len, CIV_CACHE_MAX_RECORD >> 20);
            }
            cJSON *j = cJSON_Parse(line);
            cJSON *k = j ? cJSON_GetObjectItemCaseSensitive(j, "key") : NULL;
            cJSON *ct = j ? cJSON_GetObjectItemCaseSensitive(j, "content") : NULL;
            cJSON *er = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
            cJSON *fin = j ? cJSON_GetObjectItemCaseSensitive(j, "finish_reason") : NULL;
            uint64_t key = 0;
            if (!cJSON_IsString(k) || sscanf(k->valuestring, "%" SCNx64, &key) != 1 || !key ||
                (!cJSON_IsString(ct) && !cJSON_IsString(er))) {
                cJSON_Delete(j);
                if (line[len - 1] != '\n' && fgetc(f) == EOF) {
                    fprintf(stderr, "civitas: notice: %s:%d: ignoring a truncated last record (a run stopped while "
                            "writing it)%s\n", path, lineno, writable ? "; it is removed" : "");
                    break;
                }
                free(line);
                fclose(f);
                return civ_fail(err, CIV_ERR_INPUT, "%s:%d: not an LLM answer record (expected {\"key\", \"content\"|\"error\", ...})",
                                path, lineno);
            }
            /* files written before answers were cleaned may hold invalid UTF-8: clean on the way in */
            unsigned flags = (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "final")) ? CIV_CACHE_FINAL : 0) |
                             (cJSON_IsString(fin) && strcmp(fin->valuestring, "length") == 0 ? CIV_CACHE_CUT_OFF : 0);
            insert(c, key, cJSON_IsString(ct) ? civ_text_clean(ct->valuestring, NULL, NULL) : NULL,
                   cJSON_IsString(er) ? civ_text_clean(er->valuestring, NULL, NULL) : NULL, flags);
            cJSON_Delete(j);
        }
        free(line);
        fclose(f);   /* releases the shared lock */
    }
    if (writable) {
        c->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (c->fd < 0) return civ_fail(err, CIV_ERR_IO, "%s: cannot write LLM answer file: %m", path);
        c->writable = 1;
        if (repair_tail(c->fd) != 0) return civ_fail(err, CIV_ERR_IO, "%s: cannot repair LLM answer file: %m", path);
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
    civ_cache_put_flags(c, key, request, content, error, 0);
}

void civ_cache_put_flags(civ_answer_cache *c, uint64_t key, const char *request, const char *content,
                         const char *error, unsigned flags)
{
    insert(c, key, content ? strdup(content) : NULL, error ? strdup(error) : NULL, flags);
    if (!c->writable) return;
    cJSON *j = cJSON_CreateObject();
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, key);
    cJSON_AddStringToObject(j, "key", hex);
    cJSON *req = cJSON_Parse(request);
    if (req) cJSON_AddItemToObject(j, "request", req);
    if (content) cJSON_AddStringToObject(j, "content", content);
    if (error) cJSON_AddStringToObject(j, "error", error);
    if (flags & CIV_CACHE_FINAL) cJSON_AddTrueToObject(j, "final");
    if (flags & CIV_CACHE_CUT_OFF) cJSON_AddStringToObject(j, "finish_reason", "length");
    char *text = cJSON_PrintUnformatted(j);
    size_t len = strlen(text);
    char *line = civ_xmalloc(len + 1);
    memcpy(line, text, len);
    line[len] = '\n';
    if (append_locked(c->fd, line, len + 1) != 0 && !c->write_failed) {
        c->write_failed = 1;   /* the run goes on; the answers stay in memory (and in the output file) */
        fprintf(stderr, "civitas: warning: %s: cannot append LLM answers (%s); this run's new answers will not "
                "be reusable or replayable from this file\n", c->path, strerror(errno));
    }
    free(line);
    cJSON_free(text);
    cJSON_Delete(j);
}

void civ_cache_close(civ_answer_cache *c)
{
    for (size_t i = 0; i < c->cap; i++) { free(c->slots[i].content); free(c->slots[i].error); }
    free(c->slots);
    if (c->writable) close(c->fd);
    free(c->path);
    memset(c, 0, sizeof *c);
}
