#include "host/util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- inputs ----------------------------------------------------------------------------------- */

typedef struct {
    dev_t dev;
    ino_t ino;
    char *path;
} input_id;

static input_id *inputs;
static int n_inputs, cap_inputs;

static void remember(const struct stat *sb, const char *path)
{
    for (int k = 0; k < n_inputs; k++)
        if (inputs[k].dev == sb->st_dev && inputs[k].ino == sb->st_ino) return;
    if (n_inputs == cap_inputs) {
        cap_inputs = cap_inputs ? 2 * cap_inputs : 32;
        input_id *grown = realloc(inputs, sizeof *inputs * (size_t)cap_inputs);
        if (!grown) return;   /* out of memory: the checks at the output's end still stat by name */
        inputs = grown;
    }
    inputs[n_inputs++] = (input_id){sb->st_dev, sb->st_ino, strdup(path)};
}

void civ_input_note(const char *path)
{
    struct stat sb;
    if (path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) remember(&sb, path);
}

/* The input that is the same file as sb, or NULL. */
static const char *input_named(const struct stat *sb)
{
    for (int k = 0; k < n_inputs; k++)
        if (inputs[k].dev == sb->st_dev && inputs[k].ino == sb->st_ino) return inputs[k].path ? inputs[k].path : "?";
    return NULL;
}

const char *civ_file_kind(unsigned mode)
{
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

static void size_text(size_t bytes, char *buf, size_t n)
{
    if (bytes >= ((size_t)1 << 20) && bytes % ((size_t)1 << 20) == 0) snprintf(buf, n, "%zu MiB", bytes >> 20);
    else snprintf(buf, n, "%zu bytes", bytes);
}

static civ_status refuse_kind(const char *path, const char *what, const struct stat *sb, civ_error *err)
{
    return civ_fail(err, CIV_ERR_INPUT, "%s: is %s, not a %s (civitas reads inputs only from regular files)", path,
                    civ_file_kind(sb->st_mode), what);
}

civ_status civ_check_input(const char *path, const char *what, civ_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return civ_fail(err, CIV_ERR_INPUT, "%s: cannot open %s: %m", path, what);
    if (!S_ISREG(sb.st_mode)) return refuse_kind(path, what, &sb, err);
    remember(&sb, path);
    return CIV_OK;
}

static char *too_large(const char *path, const char *what, long long size, size_t limit, civ_error *err)
{
    char lim[32];
    size_text(limit, lim, sizeof lim);
    if (size >= 0)
        civ_fail(err, CIV_ERR_INPUT, "%s: is %lld bytes, more than a %s may hold (%s)", path, size, what, lim);
    else
        civ_fail(err, CIV_ERR_INPUT, "%s: grew past %s while being read, more than a %s may hold", path, lim, what);
    return NULL;
}

char *civ_read_input(const char *path, const char *what, size_t limit, size_t *len, civ_error *err)
{
    /* a FIFO would block the open and a device (/dev/zero) never end: look before opening */
    struct stat sb;
    if (stat(path, &sb) != 0) {
        civ_fail(err, CIV_ERR_INPUT, "%s: cannot open %s: %m", path, what);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) { refuse_kind(path, what, &sb, err); return NULL; }
    if ((unsigned long long)sb.st_size > limit) return too_large(path, what, (long long)sb.st_size, limit, err);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        civ_fail(err, CIV_ERR_INPUT, "%s: cannot open %s: %m", path, what);
        return NULL;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {   /* replaced between the look and the open */
        close(fd);
        refuse_kind(path, what, &sb, err);
        return NULL;
    }
    size_t cap = (size_t)sb.st_size + 1 < limit + 1 ? (size_t)sb.st_size + 1 : limit + 1, n = 0;
    char *buf = civ_xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {   /* the file grew since fstat: read on, up to the limit */
            if (cap > limit) break;
            cap = cap * 2 < limit + 1 ? cap * 2 : limit + 1;
            char *grown = realloc(buf, cap + 1);
            if (!grown) {
                free(buf);
                close(fd);
                civ_fail(err, CIV_ERR_RUNTIME, "%s: out of memory reading %s", path, what);
                return NULL;
            }
            buf = grown;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            civ_fail(err, CIV_ERR_INPUT, "%s: cannot read %s: %m", path, what);
            free(buf);
            close(fd);
            return NULL;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    close(fd);
    if (n > limit) {
        free(buf);
        return too_large(path, what, -1, limit, err);
    }
    buf[n] = 0;
    if (len) *len = n;
    remember(&sb, path);
    return buf;
}

/* ---- outputs ---------------------------------------------------------------------------------- */

/* path must not be an input, and must be (if it exists) a regular file */
static civ_status check_target(const char *path, const char *shown, civ_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) return CIV_OK;
        return civ_fail(err, CIV_ERR_IO, "%s: cannot write output: %m", shown);
    }
    if (S_ISDIR(sb.st_mode))
        return civ_fail(err, CIV_ERR_IO, "%s: is a directory; the output must name a file", shown);
    if (!S_ISREG(sb.st_mode))
        return civ_fail(err, CIV_ERR_IO, "%s: is %s, not a regular file (civitas writes outputs only to regular files)",
                        shown, civ_file_kind(sb.st_mode));
    const char *in = input_named(&sb);
    if (in) {
        if (strcmp(in, path) == 0)
            return civ_fail(err, CIV_ERR_IO, "%s: is also an input of this command; the output would replace it "
                            "(choose another output name)", shown);
        return civ_fail(err, CIV_ERR_IO, "%s: is the same file as the input %s; the output would replace it (choose "
                        "another output name)", shown, in);
    }
    return CIV_OK;
}

civ_status civ_output_check(const char *path, civ_error *err)
{
    if (!path || !path[0]) return civ_fail(err, CIV_ERR_IO, "the output file name is empty");
    civ_status st = check_target(path, path, err);
    if (st) return st;
    struct stat sb;
    if (stat(path, &sb) == 0 && access(path, W_OK) != 0)
        return civ_fail(err, CIV_ERR_IO, "%s: cannot write output: the file exists and is not writable", path);
    char *copy = strdup(path);
    const char *dir = dirname(copy);
    if (stat(dir, &sb) != 0 && errno == ENOENT)
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot write output: directory '%s' does not exist", path, dir);
    else if (stat(dir, &sb) != 0)
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot write output: directory '%s': %m", path, dir);
    else if (!S_ISDIR(sb.st_mode))
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot write output: '%s' is not a directory", path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot write output: directory '%s' is not writable (%m)", path, dir);
    free(copy);
    return st;
}

static void release(civ_output *o)
{
    if (o->text) fclose(o->text);
    if (o->fd >= 0) close(o->fd);
    o->text = NULL;
    o->fd = -1;
    free(o->path);
    free(o->tmp);
    o->path = o->tmp = NULL;
}

civ_status civ_output_begin(civ_output *o, const char *path, civ_error *err)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    civ_status st = civ_output_check(path, err);
    if (st) return st;
    o->path = strdup(path);
    if (asprintf(&o->tmp, "%s.partial", path) < 0) o->tmp = NULL;
    if (!o->path || !o->tmp) { release(o); return civ_fail(err, CIV_ERR_RUNTIME, "out of memory"); }
    if ((st = check_target(o->tmp, o->tmp, err))) { release(o); return st; }
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(o->tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW, 0666);
        if (fd < 0) {
            st = civ_fail(err, CIV_ERR_IO, "%s: cannot create %s: %m", path, o->tmp);
            release(o);
            return st;
        }
        /* an open-file-description lock: independent of HDF5's own flock on the file, and held until
           this descriptor is closed, whatever other descriptors of the file are closed meanwhile */
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        if (fcntl(fd, F_OFD_SETLK, &fl) != 0 && errno != EINVAL && errno != ENOLCK && errno != EOPNOTSUPP) {
            const int e = errno;
            close(fd);
            if (e == EAGAIN || e == EACCES)
                st = civ_fail(err, CIV_ERR_IO, "%s: another process is writing this output now (it holds %s); wait for "
                              "it to finish or choose another output name", path, o->tmp);
            else
                st = civ_fail(err, CIV_ERR_IO, "%s: cannot lock %s: %s", path, o->tmp, strerror(e));
            release(o);
            return st;
        }
        /* the file locked must still be the one under the partial name: a writer finishing just now may
           have renamed it into place (then try again with a new one) */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(o->tmp, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            o->fd = fd;
            break;
        }
        close(fd);
    }
    if (o->fd < 0) {
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot claim %s: other processes keep replacing it", path, o->tmp);
        release(o);
        return st;
    }
    if (ftruncate(o->fd, 0) != 0) {
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot empty %s: %m", path, o->tmp);
        civ_output_abandon(o);
    }
    return st;
}

/* The stream's writes, keeping the first failure's reason (stdio keeps only an error flag) */
static ssize_t write_out(void *cookie, const char *buf, size_t n)
{
    civ_output *o = cookie;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(o->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (!o->write_errno) o->write_errno = w < 0 ? errno : EIO;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)w;
    }
    return (ssize_t)done;
}

FILE *civ_output_text(civ_output *o, civ_error *err)
{
    if (!o->text) o->text = fopencookie(o, "w", (cookie_io_functions_t){.write = write_out});
    if (!o->text) civ_fail(err, CIV_ERR_IO, "%s: cannot write %s: %m", o->path, o->tmp);
    return o->text;
}

civ_status civ_output_commit(civ_output *o, civ_error *err)
{
    if (o->fd < 0) return civ_fail(err, CIV_ERR_IO, "output already closed");
    int e = 0;
    if (o->text && (fflush(o->text) != 0 || ferror(o->text))) e = o->write_errno ? o->write_errno : EIO;
    /* the data must be on disk before the name says the file is whole; a delayed write error (EIO, or
       ENOSPC on file systems that allocate late) surfaces here rather than after the rename */
    if (!e && fsync(o->fd) != 0 && errno != EINVAL) e = errno;
    struct stat sb;
    const char *in = NULL;
    if (!e && stat(o->path, &sb) == 0 && (in = input_named(&sb)) != NULL) {
        civ_status st = civ_fail(err, CIV_ERR_IO, "%s: is the same file as the input %s; the output would replace it "
                                 "(choose another output name)", o->path, in);
        civ_output_abandon(o);
        return st;
    }
    if (!e && rename(o->tmp, o->path) != 0) e = errno;
    if (e) {
        civ_status st = civ_fail(err, CIV_ERR_IO, "%s: cannot write: %s", o->path, strerror(e));
        civ_output_abandon(o);
        return st;
    }
    release(o);
    return CIV_OK;
}

FILE *civ_output_open_text(civ_output *o, const char *path, civ_error *err)
{
    if (civ_output_begin(o, path, err)) return NULL;
    FILE *f = civ_output_text(o, err);
    if (!f) civ_output_abandon(o);
    return f;
}

void civ_output_abandon(civ_output *o)
{
    if (o->fd >= 0 && o->tmp) unlink(o->tmp);   /* still ours: the lock is held until release() */
    release(o);
}

civ_status civ_write_file_atomic(const char *path, const char *text, civ_error *err)
{
    civ_output o;
    civ_status st = civ_output_begin(&o, path, err);
    if (st) return st;
    FILE *f = civ_output_text(&o, err);
    if (!f) { civ_output_abandon(&o); return err->status; }
    fputs(text, f);   /* an error here is reported by the commit */
    return civ_output_commit(&o, err);
}
