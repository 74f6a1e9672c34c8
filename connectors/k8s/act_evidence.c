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
    struct k8s_op *op;
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
            snprintf(st->work_err, sizeof(st->work_err), "cannot write %s/%s: %s", st->dir, f->name,
                     ird_strerror(rc));
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
    struct capture *st = w->data;
    struct k8s_op *op = st->op;
    op->work_wait = false;
    if (status < 0 || st->work_rc < 0) {
        k8s_fail(op, "%s",
                 st->work_err[0] ? st->work_err : ird_strerror(status < 0 ? status : st->work_rc));
        return;
    }
    cJSON_AddStringToObject(op->result, "dir", st->dir);
    cJSON *files = cJSON_AddArrayToObject(op->result, "files");
    for (size_t i = 0; i < st->nfiles; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", st->files[i].name);
        cJSON_AddNumberToObject(f, "bytes", (double)st->files[i].len);
        cJSON_AddStringToObject(f, "sha256", st->files[i].sha256);
        cJSON_AddItemToArray(files, f);
    }
    cJSON_AddStringToObject(op->result, "manifest", MANIFEST_NAME);
    cJSON_AddBoolToObject(op->result, "truncated", st->truncated);
    if (op->cancelled)
        k8s_fail(op, "cancelled (evidence already written to %s)", st->dir);
    else
        k8s_finish_ok(op);
}

static void write_all(struct k8s_op *op)
{
    struct capture *st = op->state;
    st->op = op;
    st->now_ms = ird_clock_now_ms();
    st->evidence_dir = strdup(op->inst->evidence_dir);
    st->incident = strdup(k8s_incident(op));
    st->work.data = st;
    if (!st->evidence_dir || !st->incident) {
        k8s_fail(op, "out of memory");
        return;
    }
    int rc = uv_queue_work(op->call->loop, &st->work, capture_work, capture_written);
    if (rc < 0) {
        k8s_fail(op, "evidence: cannot start the writer: %s", ird_strerror(rc));
        return;
    }
    op->work_wait = true;
}

/* ---- reads ---------------------------------------------------------------------------- */

static void next_log(struct k8s_op *op);

static void on_events(struct k8s_op *op, const struct k8s_resp *r)
{
    struct capture *st = op->state;
    if (!k8s_ok(r)) {
        k8s_fail_resp(op, r, "list events");
        return;
    }
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(r->json, "items");
    char *text = cJSON_Print(cJSON_IsArray(items) ? items : r->json);
    if (!text || add_file(st, "events.json", text, strlen(text)) < 0) {
        k8s_fail(op, "out of memory");
        return;
    }
    write_all(op);
}

static void get_events(struct k8s_op *op)
{
    struct capture *st = op->state;
    if (!st->uid) {
        cJSON_AddItemToArray(st->missing, cJSON_CreateString("events.json: the pod has no uid"));
        write_all(op);
        return;
    }
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = ird_k8s_event_list_for(st->ns, st->uid, &req, &err);
    k8s_send_built(op, rc, &req, &err, false, on_events);
}

static void on_log(struct k8s_op *op, const struct k8s_resp *r)
{
    struct capture *st = op->state;
    struct ev_log *l = &st->logs[st->ilog];
    op->max_response = 0;
    struct ird_buf name = IRD_BUF_INIT;
    if (ird_buf_printf(&name, "%s%s.log", l->container, l->previous ? ".previous" : "") < 0) {
        k8s_fail(op, "out of memory");
        return;
    }
    if (k8s_ok(r)) {
        char *data = dup_bytes(r->body, r->body_len);
        if (!data || add_file(st, name.data, data, r->body_len) < 0) {
            ird_buf_free(&name);
            k8s_fail(op, "out of memory");
            return;
        }
    } else if (r->code == 400) {
        /* "previous terminated container ... not found", "container ... is
         * waiting to start": nothing to keep for this one; say why. */
        char line[400];
        ird_k8s_status_format(&r->st, line, sizeof(line));
        ird_buf_printf(&name, ": %s", line);
        cJSON_AddItemToArray(st->missing, cJSON_CreateString(name.data));
    } else {
        ird_buf_free(&name);
        k8s_fail_resp(op, r, "get logs");
        return;
    }
    ird_buf_free(&name);
    st->ilog++;
    next_log(op);
}

static void next_log(struct k8s_op *op)
{
    struct capture *st = op->state;
    if (st->ilog >= st->nlogs) {
        get_events(op);
        return;
    }
    struct ev_log *l = &st->logs[st->ilog];
    size_t left = st->total < (size_t)st->max_bytes ? (size_t)st->max_bytes - st->total : 0;
    if (left == 0) {
        st->truncated = true;
        struct ird_buf name = IRD_BUF_INIT;
        ird_buf_printf(&name, "%s%s.log (over max_bytes)", l->container,
                       l->previous ? ".previous" : "");
        cJSON_AddItemToArray(st->missing, cJSON_CreateString(name.data ? name.data : "?"));
        ird_buf_free(&name);
        st->ilog++;
        next_log(op);
        return;
    }
    struct ird_k8s_log_opts o = IRD_K8S_LOG_OPTS_INIT;
    o.container = l->container;
    o.previous = l->previous;
    o.timestamps = true;
    o.tail_lines = st->tail_lines;
    o.since_seconds = st->since_seconds;
    int64_t limit = st->limit_bytes != IRD_K8S_UNSET && st->limit_bytes < (int64_t)left
                        ? st->limit_bytes
                        : (int64_t)left;
    o.limit_bytes = limit;
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = ird_k8s_pod_logs(st->ns, st->pod, &o, &req, &err);
    if (rc < 0) {
        k8s_fail_err(op, rc, &err);
        return;
    }
    op->max_response = (size_t)limit + 1;
    k8s_send(op, &req, false, on_log);
}

/* Whether a container status says there is a previous instance. */
static bool has_previous(const cJSON *statuses, const char *name)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, statuses) {
        const char *n = ird_k8s_req_str(s, "name");
        if (!n || strcmp(n, name) != 0)
            continue;
        const cJSON *rc = cJSON_GetObjectItemCaseSensitive(s, "restartCount");
        const cJSON *last = cJSON_GetObjectItemCaseSensitive(s, "lastState");
        return (cJSON_IsNumber(rc) && rc->valuedouble > 0) ||
               cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(last, "terminated"));
    }
    return false;
}

static int add_logs(struct capture *st, const cJSON *containers, const cJSON *statuses,
                    bool previous)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, containers) {
        const char *name = ird_k8s_req_str(c, "name");
        if (!name)
            continue;
        for (int prev = 0; prev < 2; prev++) {
            if (prev && !(previous && has_previous(statuses, name)))
                break;
            struct ev_log *l = realloc(st->logs, (st->nlogs + 1) * sizeof(*l));
            if (!l)
                return -ENOMEM;
            st->logs = l;
            l[st->nlogs].container = strdup(name);
            l[st->nlogs].previous = prev;
            if (!l[st->nlogs].container)
                return -ENOMEM;
            st->nlogs++;
        }
    }
    return 0;
}

static void on_pod(struct k8s_op *op, const struct k8s_resp *r)
{
    struct capture *st = op->state;
    if (!k8s_pod_answer_ok(op, r, st->ns, st->pod, "get pod"))
        return;
    if (!r->json) {
        k8s_fail_resp(op, r, "get pod");
        return;
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(r->json, "metadata");
    const char *uid = ird_k8s_req_str(md, "uid");
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(r->json, "spec");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(r->json, "status");
    bool previous = k8s_param_bool(op, "previous", true);
    char *text = cJSON_Print(r->json);
    if ((uid && !(st->uid = strdup(uid))) || !text ||
        add_file(st, "pod.json", text, strlen(text)) < 0 ||
        add_logs(st, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"),
                 cJSON_GetObjectItemCaseSensitive(status, "initContainerStatuses"), previous) < 0 ||
        add_logs(st, cJSON_GetObjectItemCaseSensitive(spec, "containers"),
                 cJSON_GetObjectItemCaseSensitive(status, "containerStatuses"), previous) < 0) {
        k8s_fail(op, "out of memory");
        return;
    }
    next_log(op);
}

static int64_t opt_int(const struct k8s_op *op, const char *name)
{
    const cJSON *v = k8s_param(op, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : IRD_K8S_UNSET;
}

int ird_k8s_act_capture_logs(struct ird_action_call *call)
{
    struct k8s_op *op = k8s_op_with_state(call, sizeof(struct capture), capture_free);
    if (!op)
        return -ENOMEM;
    struct capture *st = op->state;
    st->ns = k8s_namespace(op);
    st->pod = k8s_param_str(op, "pod");
    st->tail_lines = opt_int(op, "tail_lines");
    st->since_seconds = opt_int(op, "since_seconds");
    st->limit_bytes = opt_int(op, "limit_bytes");
    st->max_bytes = k8s_param_int(op, "max_bytes", (int64_t)64 * 1024 * 1024);
    st->missing = cJSON_AddArrayToObject(op->result, "missing");
    if (!st->pod) {
        k8s_fail(op, "parameter pod is required");
        return 0;
    }
    if (st->max_bytes < 1) {
        k8s_fail(op, "parameter max_bytes: must be >= 1");
        return 0;
    }
    if (st->limit_bytes != IRD_K8S_UNSET && st->limit_bytes < 1) {
        k8s_fail(op, "parameter limit_bytes: must be >= 1");
        return 0;
    }
    cJSON_AddStringToObject(op->result, "namespace", st->ns);
    cJSON_AddStringToObject(op->result, "pod", st->pod);
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = ird_k8s_pod_get(st->ns, st->pod, &req, &err);
    k8s_send_built(op, rc, &req, &err, false, on_pod);
    return 0;
}
