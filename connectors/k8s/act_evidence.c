/* k8s.capture_logs: the evidence of one pod (its object, every container's
 * current and previous logs, its Events) read from the API into memory under a
 * size cap, then written once by a libuv worker thread (never on the loop)
 * into a new directory <evidence_dir>/<incident>/<time>-<ns>-<pod>[-N]/ with
 * O_EXCL files, fsync of files and directories, and MANIFEST.sha256 in
 * `sha256sum -c` format. Reads only: in dry-run it captures all the same
 * (writing ird's own evidence does not touch the cluster). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/clock.h"
#include "k8s/k8s.h"

#define MANIFEST_NAME "MANIFEST.sha256"

struct ev_file {
    char *name;
    char *data;
    size_t len;
    char sha256[65];
};

struct ev_log {
    char *container;
    bool previous;
};

struct capture {
    const char *ns, *pod;
    int64_t tail_lines, since_seconds, limit_bytes, max_bytes;
    char *uid;
    struct ev_log *logs;
    size_t nlogs, ilog;
    struct ev_file *files;
    size_t nfiles;
    size_t total;
    bool truncated;
    cJSON *missing; /* in op->result */
    /* the worker's */
    uv_work_t work;
    char *evidence_dir, *incident;
    int64_t now_ms;
    char *dir; /* the directory created */
    int work_rc;
    char work_err[300];
};

static void capture_free(void *p)
{
    struct capture *st = p;
    if (!st)
        return;
    for (size_t i = 0; i < st->nlogs; i++)
        free(st->logs[i].container);
    free(st->logs);
    for (size_t i = 0; i < st->nfiles; i++) {
        free(st->files[i].name);
        free(st->files[i].data);
    }
    free(st->files);
    free(st->uid);
    free(st->evidence_dir);
    free(st->incident);
    free(st->dir);
    free(st);
}

/* A path component from untrusted text: [A-Za-z0-9._-] kept, the rest '_',
 * never starting with '.'. */
static char *safe_component(const char *s)
{
    size_t n = strlen(s);
    if (n > 200)
        n = 200;
    char *out = malloc(n + 2);
    if (!out)
        return NULL;
    size_t j = 0;
    if (n == 0 || s[0] == '.')
        out[j++] = '_';
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        out[j++] = ok ? c : '_';
    }
    out[j] = '\0';
    return out;
}

/* Keep a file in memory, cut to what is left of max_bytes. Takes data. */
static int add_file(struct capture *st, const char *name, char *data, size_t len)
{
    size_t left = st->total < (size_t)st->max_bytes ? (size_t)st->max_bytes - st->total : 0;
    if (len > left) {
        len = left;
        st->truncated = true;
    }
    struct ev_file *f = realloc(st->files, (st->nfiles + 1) * sizeof(*f));
    char *nm = safe_component(name);
    if (!f || !nm) {
        if (f)
            st->files = f;
        free(nm);
        free(data);
        return -ENOMEM;
    }
    st->files = f;
    st->files[st->nfiles++] = (struct ev_file){.name = nm, .data = data, .len = len};
    st->total += len;
    return 0;
}

static char *dup_bytes(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* ---- the worker thread ---------------------------------------------------------------- */

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0750);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -errno;
    }
    if (mkdir(path, 0750) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int write_new(int dirfd, const char *name, const char *data, size_t len)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = -errno;
            close(fd);
            return rc;
        }
        off += (size_t)n;
    }
    int rc = fsync(fd) < 0 ? -errno : 0;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        out[0] = '\0';
        return;
    }
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void capture_work(uv_work_t *w)
{
    struct capture *st = w->data;
    struct ird_buf path = IRD_BUF_INIT, manifest = IRD_BUF_INIT;
    char stamp[32];
    int64_t s = st->now_ms / 1000;
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    char *inc = safe_component(st->incident);
    char *ns = safe_component(st->ns);
    char *pod = safe_component(st->pod);
    int rc = inc && ns && pod ? 0 : -ENOMEM;
    if (rc == 0)
        rc = ird_buf_printf(&path, "%s/%s", st->evidence_dir, inc);
    if (rc == 0 && (rc = mkdir_p(path.data)) < 0)
        snprintf(st->work_err, sizeof(st->work_err), "cannot create %s: %s", path.data,
                 ird_strerror(rc));
    size_t base = path.len;
    for (int n = 0; rc == 0 && n < 1000; n++) {
        path.len = base;
        rc = n ? ird_buf_printf(&path, "/%s-%s-%s-%d", stamp, ns, pod, n)
               : ird_buf_printf(&path, "/%s-%s-%s", stamp, ns, pod);
        if (rc < 0)
            break;
        if (mkdir(path.data, 0750) == 0) {
            st->dir = strdup(path.data);
            break;
        }
        if (errno != EEXIST) {
            rc = -errno;
            snprintf(st->work_err, sizeof(st->work_err), "cannot create %s: %s", path.data,
                     ird_strerror(rc));
        }
    }
    if (rc == 0 && !st->dir)
        rc = -EEXIST;
    int dirfd = -1;
    if (rc == 0 && (dirfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = -errno;
    for (size_t i = 0; rc == 0 && i < st->nfiles; i++) {
        struct ev_file *f = &st->files[i];
        sha256_hex(f->data, f->len, f->sha256);
        rc = write_new(dirfd, f->name, f->data, f->len);
        if (rc == 0)
            rc = ird_buf_printf(&manifest, "%s  %s\n", f->sha256, f->name);
        else
            snprintf(st->work_err, sizeof(st->work_err), "cannot write %s/%s: %s", st->dir,
                     f->name, ird_strerror(rc));
    }
    if (rc == 0 && (rc = write_new(dirfd, MANIFEST_NAME, manifest.data ? manifest.data : "",
                                   manifest.len)) < 0)
        snprintf(st->work_err, sizeof(st->work_err), "cannot write %s/%s: %s", st->dir,
                 MANIFEST_NAME, ird_strerror(rc));
    if (dirfd >= 0)
        close(dirfd);
    if (rc == 0)
        rc = fsync_dir(st->dir);
    if (rc == 0) {
        path.len = base;
        path.data[base] = '\0';
        rc = fsync_dir(path.data);
    }
    if (rc < 0 && !st->work_err[0])
        snprintf(st->work_err, sizeof(st->work_err), "evidence: %s", ird_strerror(rc));
    st->work_rc = rc;
    free(inc);
    free(ns);
    free(pod);
    ird_buf_free(&path);
    ird_buf_free(&manifest);
}

static void capture_written(uv_work_t *w, int status)
{
    struct k8s_op *op = w->data == NULL ? NULL : ((struct capture *)w->data)->work.loop ? NULL : NULL;
    (void)op;
    struct capture *st = w->data;
    struct k8s_op *owner = st->work.loop->data == NULL ? NULL : NULL;
    (void)owner;
    (void)status;
}
