/* Kubernetes credentials: the struct's lifetime, the in-cluster loader, and the
 * token sources (static, re-read file, exec plugin run with uv_spawn and cached
 * until its expirationTimestamp). The kubeconfig loader is in kubeconfig.c. */
#include "k8s/credentials.h"

#include "core/clock.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

struct exec_waiter {
    ird_k8s_token_cb cb;
    void *data;
    struct exec_waiter *next;
};

/* One run of an exec plugin. It outlives its credentials when they are freed
 * mid-run (creds is then NULL): the handles close on the loop and the last
 * close callback frees the run. */
struct exec_run {
    struct ird_k8s_credentials *creds;
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    int open_handles;
    struct ird_buf output;
    int exited, eof, killed, finished;
    int64_t exit_status;
    int term_signal;
    int fail_code; /* set when the run itself failed: timeout, too much output */
    int64_t timeout_ms;
    struct ird_err err;
    char *token; /* the result handed to waiters */
    char *label; /* `exec plugin "cmd"` for messages */
    struct exec_waiter *waiters, **tail;
};

struct ird_k8s_token_state {
    char *token; /* current token: static, last file read, or cached exec result */
    char *path;  /* token file */
    int64_t read_at;
    int have_read_at;
    int stale; /* invalidated: re-read / re-run on the next get */
    struct ird_k8s_exec *exec;
    int have_exec_token;
    int64_t expires_ms;
    struct exec_run *run;
};

/* ---- small helpers ---- */

void ird_k8s_buf_wipe(struct ird_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    ird_buf_free(b);
}

static void secret_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

int ird_k8s_file_read(const char *path, size_t limit, struct ird_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    size_t total = 0;
    int rc = 0;
    for (;;) {
        rc = ird_buf_reserve(out, 4096);
        if (rc)
            break;
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        total += (size_t)n;
        if (total > limit) {
            rc = -EFBIG;
            break;
        }
    }
    close(fd);
    if (out->data)
        out->data[out->len] = '\0';
    return rc;
}

/* Trim like Go's strings.TrimSpace and refuse control characters, which
 * would otherwise end up inside an Authorization header. Returns a new string
 * or NULL (empty, invalid or out of memory). */
static char *token_clean(const char *s, size_t len)
{
    while (len &&
           (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
                   s[len - 1] == '\r' || s[len - 1] == '\v' || s[len - 1] == '\f'))
        len--;
    if (len == 0)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return NULL;
    }
    return strndup(s, len);
}

/* Read and clean a token file: 0 and *ret (caller frees with secret_free). */
static int token_file_read(const char *path, char **ret, struct ird_err *err)
{
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_k8s_file_read(path, IRD_K8S_TOKEN_FILE_MAX, &b);
    if (rc) {
        ird_k8s_buf_wipe(&b);
        if (rc == -EFBIG)
            return ird_err_set(err, rc, "token file %s is larger than %d bytes", path,
                               IRD_K8S_TOKEN_FILE_MAX);
        return ird_err_set(err, rc, "token file %s: %s", path, ird_strerror(rc));
    }
    char *t = token_clean(b.data ? b.data : "", b.len);
    ird_k8s_buf_wipe(&b);
    if (!t)
        return ird_err_set(err, -EINVAL, "token file %s is empty or holds control characters",
                           path);
    *ret = t;
    return 0;
}

/* ---- lifetime ---- */

struct ird_k8s_credentials *ird_k8s_credentials_new(void)
{
    struct ird_k8s_credentials *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->token = calloc(1, sizeof(*c->token));
    if (!c->token) {
        free(c);
        return NULL;
    }
    c->exec_timeout_ms = IRD_K8S_EXEC_TIMEOUT_MS;
    return c;
}

void ird_k8s_exec_free(struct ird_k8s_exec *exec)
{
    if (!exec)
        return;
    free(exec->api_version);
    free(exec->command);
    for (size_t i = 0; i < exec->nargs; i++)
        free(exec->args[i]);
    free(exec->args);
    for (size_t i = 0; i < exec->nenv; i++)
        secret_free(exec->env[i]); /* env values often carry secrets */
    free(exec->env);
    free(exec->interactive_mode);
    free(exec);
}

static void run_cancel(struct exec_run *r);

static void token_source_clear(struct ird_k8s_token_state *st)
{
    if (st->run)
        run_cancel(st->run);
    secret_free(st->token);
    free(st->path);
    ird_k8s_exec_free(st->exec);
    memset(st, 0, sizeof(*st));
}

void ird_k8s_credentials_free(struct ird_k8s_credentials *c)
{
    if (!c)
        return;
    if (c->token) {
        token_source_clear(c->token);
        free(c->token);
    }
    free(c->server);
    free(c->namespace_);
    ird_k8s_buf_wipe(&c->ca_pem);
    ird_k8s_buf_wipe(&c->cert_pem);
    ird_k8s_buf_wipe(&c->key_pem);
    free(c->tls_server_name);
    free(c->origin);
    free(c->warning);
    free(c);
}

/* ---- token sources ---- */

int ird_k8s_token_use_static(struct ird_k8s_credentials *c, const char *token)
{
    char *t = token_clean(token, strlen(token));
    if (!t)
        return -EINVAL;
    token_source_clear(c->token);
    c->token->token = t;
    c->token_kind = IRD_K8S_TOKEN_STATIC;
    return 0;
}

int ird_k8s_token_use_file(struct ird_k8s_credentials *c, const char *path, struct ird_err *err)
{
    char *t = NULL;
    int rc = token_file_read(path, &t, err);
    if (rc)
        return rc;
    char *p = strdup(path);
    if (!p) {
        secret_free(t);
        return -ENOMEM;
    }
    token_source_clear(c->token);
    c->token->token = t;
    c->token->path = p;
    c->token_kind = IRD_K8S_TOKEN_FILE;
    return 0;
}

int ird_k8s_token_use_exec(struct ird_k8s_credentials *c, struct ird_k8s_exec *exec)
{
    if (!exec || !exec->command || !exec->api_version) {
        ird_k8s_exec_free(exec);
        return -EINVAL;
    }
    token_source_clear(c->token);
    c->token->exec = exec;
    c->token_kind = IRD_K8S_TOKEN_EXEC;
    return 0;
}

void ird_k8s_token_invalidate(struct ird_k8s_credentials *c)
{
    struct ird_k8s_token_state *st = c->token;
    st->stale = 1;
    if (c->token_kind == IRD_K8S_TOKEN_EXEC) {
        secret_free(st->token);
        st->token = NULL;
        st->have_exec_token = 0;
    }
}

static void file_token_refresh(struct ird_k8s_token_state *st, int64_t now_ms)
{
    if (!st->have_read_at) {
        /* Read at load time; start the clock at the first use. */
        st->read_at = now_ms;
        st->have_read_at = 1;
        if (!st->stale)
            return;
    }
    if (!st->stale && now_ms >= st->read_at && now_ms - st->read_at < IRD_K8S_TOKEN_REREAD_MS)
        return;
    st->stale = 0;
    char *t = NULL;
    if (token_file_read(st->path, &t, NULL) == 0) {
        secret_free(st->token);
        st->token = t;
        st->read_at = now_ms;
    }
    /* A failed or empty re-read keeps the old token and tries again next time. */
}

/* ---- exec plugins ---- */

static void run_close_cb(uv_handle_t *h)
{
    struct exec_run *r = h->data;
    if (--r->open_handles > 0)
        return;
    ird_k8s_buf_wipe(&r->output);
    secret_free(r->token);
    free(r->label);
    free(r);
}

static void run_close(struct exec_run *r)
{
    uv_close((uv_handle_t *)&r->proc, run_close_cb);
    uv_close((uv_handle_t *)&r->out, run_close_cb);
    uv_close((uv_handle_t *)&r->timer, run_close_cb);
}

static void run_kill(struct exec_run *r)
{
    r->killed = 1;
    if (r->exited || r->proc.pid <= 0)
        return;
    /* The plugin leads its own process group (UV_PROCESS_DETACHED): kill the
     * whole group so a shell script's children do not keep stdout open. */
    if (kill(-r->proc.pid, SIGKILL) != 0)
        uv_process_kill(&r->proc, SIGKILL);
}

static void run_fail(struct exec_run *r, int code, const char *what)
{
    if (r->fail_code)
        return;
    r->fail_code = ird_err_set(&r->err, code, "%s %s", r->label, what);
}

struct exec_result {
    char *token;
    struct ird_buf cert, key;
    int64_t expires_ms; /* INT64_MAX: no expiry */
};

static void exec_result_free(struct exec_result *res)
{
    secret_free(res->token);
    ird_k8s_buf_wipe(&res->cert);
    ird_k8s_buf_wipe(&res->key);
}

static const char *json_str(const cJSON *obj, const char *key, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v) || !v->valuestring) {
        *bad = 1;
        return NULL;
    }
    return v->valuestring;
}

/* Parse the plugin's ExecCredential. Messages never quote the output. */
static int exec_parse(const struct ird_k8s_exec *exec, const char *label, const char *out,
                      size_t len, struct exec_result *res, struct ird_err *err)
{
    cJSON *root = cJSON_ParseWithLength(out, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ird_err_set(err, -EINVAL,
                           "%s printed output that is not an ExecCredential JSON object", label);
    }
    int rc = 0, bad = 0;
    const char *kind = json_str(root, "kind", &bad);
    const char *api = json_str(root, "apiVersion", &bad);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (bad || !kind || strcmp(kind, "ExecCredential") != 0) {
        rc = ird_err_set(err, -EINVAL, "%s printed JSON whose kind is not ExecCredential", label);
        goto out;
    }
    if (!api || strcmp(api, exec->api_version) != 0) {
        rc = ird_err_set(err, -EINVAL,
                         "%s returned apiVersion \"%.64s\", but the kubeconfig asks for \"%s\"",
                         label, api ? api : "", exec->api_version);
        goto out;
    }
    if (!cJSON_IsObject(status)) {
        rc = ird_err_set(err, -EINVAL, "%s returned an ExecCredential without status", label);
        goto out;
    }
    const char *token = json_str(status, "token", &bad);
    const char *cert = json_str(status, "clientCertificateData", &bad);
    const char *key = json_str(status, "clientKeyData", &bad);
    const char *exp = json_str(status, "expirationTimestamp", &bad);
    if (bad) {
        rc = ird_err_set(err, -EINVAL, "%s returned a status field that is not a string", label);
        goto out;
    }
    if (token && *token == '\0')
        token = NULL;
    if (cert && *cert == '\0')
        cert = NULL;
    if (key && *key == '\0')
        key = NULL;
    if (!cert != !key) {
        rc = ird_err_set(err, -EINVAL, "%s returned %s without %s", label,
                         cert ? "clientCertificateData" : "clientKeyData",
                         cert ? "clientKeyData" : "clientCertificateData");
        goto out;
    }
    if (!token && !cert) {
        rc = ird_err_set(err, -EINVAL, "%s returned neither a token nor a client certificate",
                         label);
        goto out;
    }
    res->expires_ms = INT64_MAX;
    if (exp && ird_clock_parse(exp, &res->expires_ms) != 0) {
        rc = ird_err_set(err, -EINVAL, "%s returned an expirationTimestamp that is not RFC 3339",
                         label);
        goto out;
    }
    if (token) {
        res->token = token_clean(token, strlen(token));
        if (!res->token) {
            rc = ird_err_set(err, -EINVAL, "%s returned a token with control characters", label);
            goto out;
        }
    }
    if (cert && (ird_buf_puts(&res->cert, cert) || ird_buf_puts(&res->key, key)))
        rc = ird_err_set(err, -ENOMEM, "%s: out of memory", label);
out:
    if (rc)
        exec_result_free(res);
    /* The JSON text held the secret too. */
    if (root) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
        const char *names[] = {"token", "clientKeyData"};
        for (size_t i = 0; st && i < sizeof(names) / sizeof(names[0]); i++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(st, names[i]);
            if (cJSON_IsString(v) && v->valuestring)
                OPENSSL_cleanse(v->valuestring, strlen(v->valuestring));
        }
    }
    cJSON_Delete(root);
    return rc;
}

/* Store a successful result in the credentials. */
static void exec_store(struct ird_k8s_credentials *c, struct exec_result *res)
{
    struct ird_k8s_token_state *st = c->token;
    secret_free(st->token);
    st->token = res->token;
    res->token = NULL;
    st->have_exec_token = 1;
    st->stale = 0;
    st->expires_ms =
        res->expires_ms == INT64_MAX ? INT64_MAX : res->expires_ms - IRD_K8S_EXEC_EXPIRY_MARGIN_MS;
    if (res->cert.len) {
        ird_k8s_buf_wipe(&c->cert_pem);
        ird_k8s_buf_wipe(&c->key_pem);
        c->cert_pem = res->cert;
        c->key_pem = res->key;
        res->cert = (struct ird_buf)IRD_BUF_INIT;
        res->key = (struct ird_buf)IRD_BUF_INIT;
        c->tls_generation++;
    }
}

static void run_finish(struct exec_run *r)
{
    if (r->finished)
        return;
    r->finished = 1;
    uv_timer_stop(&r->timer);
    int status = r->fail_code;
    struct exec_result res = {.cert = IRD_BUF_INIT, .key = IRD_BUF_INIT};
    if (status) {
        /* reason already in r->err */
    } else if (r->term_signal) {
        status =
            ird_err_set(&r->err, -ECHILD, "%s was killed by signal %d", r->label, r->term_signal);
    } else if (r->exit_status != 0) {
        status = ird_err_set(&r->err, -ECHILD, "%s exited with status %lld", r->label,
                             (long long)r->exit_status);
    } else if (r->creds) {
        status = exec_parse(r->creds->token->exec, r->label, r->output.data ? r->output.data : "",
                            r->output.len, &res, &r->err);
    } else {
        status = -ECANCELED;
    }
    ird_k8s_buf_wipe(&r->output);
    if (r->creds) {
        if (status == 0) {
            if (res.token && !(r->token = strdup(res.token)))
                status = ird_err_set(&r->err, -ENOMEM, "%s: out of memory", r->label);
            else
                exec_store(r->creds, &res);
        }
        r->creds->token->run = NULL;
        r->creds = NULL;
    }
    exec_result_free(&res);
    struct exec_waiter *w = r->waiters;
    r->waiters = NULL;
    r->tail = &r->waiters;
    while (w) {
        struct exec_waiter *next = w->next;
        w->cb(status, status == 0 ? r->token : NULL, status ? &r->err : NULL, w->data);
        free(w);
        w = next;
    }
    run_close(r);
}

/* The credentials go away while the plugin runs: tell the waiters, kill the
 * plugin, and let the run finish on its own. */
static void run_cancel(struct exec_run *r)
{
    r->creds = NULL;
    run_fail(r, -ECANCELED, "was cancelled: the credentials were freed");
    struct exec_waiter *w = r->waiters;
    r->waiters = NULL;
    r->tail = &r->waiters;
    while (w) {
        struct exec_waiter *next = w->next;
        w->cb(-ECANCELED, NULL, &r->err, w->data);
        free(w);
        w = next;
    }
    run_kill(r);
    if (!r->eof) {
        uv_read_stop((uv_stream_t *)&r->out);
        r->eof = 1;
    }
    if (r->exited)
        run_finish(r);
}

static void run_exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    struct exec_run *r = proc->data;
    r->exited = 1;
    r->exit_status = exit_status;
    r->term_signal = term_signal;
    if (r->eof || r->killed)
        run_finish(r);
}

static void run_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct exec_run *r = h->data;
    (void)suggested;
    if (ird_buf_reserve(&r->output, 16384) != 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = r->output.data + r->output.len;
    buf->len = r->output.cap - r->output.len - 1;
}

static void run_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct exec_run *r = s->data;
    (void)buf;
    if (nread > 0) {
        r->output.len += (size_t)nread;
        r->output.data[r->output.len] = '\0';
        if (r->output.len <= IRD_K8S_EXEC_OUTPUT_MAX)
            return;
        run_fail(r, -EFBIG, "printed more than 1 MiB");
        run_kill(r);
    } else if (nread == 0) {
        return;
    } else if (nread == UV_ENOBUFS) {
        run_fail(r, -ENOMEM, "output could not be stored: out of memory");
        run_kill(r);
    }
    uv_read_stop(s);
    r->eof = 1;
    if (r->exited)
        run_finish(r);
}

static void run_timer_cb(uv_timer_t *t)
{
    struct exec_run *r = t->data;
    char what[64];
    snprintf(what, sizeof(what), "timed out after %lld ms", (long long)r->timeout_ms);
    run_fail(r, -ETIMEDOUT, what);
    run_kill(r);
    if (r->exited)
        run_finish(r);
}

/* KUBERNETES_EXEC_INFO: an ExecCredential with spec.interactive=false and, when
 * asked for, spec.cluster. Built with cJSON; returns "NAME=json" or NULL. */
static char *exec_info_env(const struct ird_k8s_credentials *c)
{
    const struct ird_k8s_exec *exec = c->token->exec;
    char *json = NULL, *result = NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *spec = cJSON_AddObjectToObject(root, "spec");
    if (!root || !spec || !cJSON_AddStringToObject(root, "apiVersion", exec->api_version) ||
        !cJSON_AddStringToObject(root, "kind", "ExecCredential") ||
        !cJSON_AddBoolToObject(spec, "interactive", 0))
        goto out;
    if (exec->provide_cluster_info) {
        cJSON *cl = cJSON_AddObjectToObject(spec, "cluster");
        if (!cl || !cJSON_AddStringToObject(cl, "server", c->server ? c->server : ""))
            goto out;
        if (c->tls_server_name &&
            !cJSON_AddStringToObject(cl, "tls-server-name", c->tls_server_name))
            goto out;
        if (c->insecure_skip_verify && !cJSON_AddBoolToObject(cl, "insecure-skip-tls-verify", 1))
            goto out;
        if (c->ca_pem.len) {
            if (c->ca_pem.len > INT32_MAX / 2)
                goto out;
            size_t n = 4 * ((c->ca_pem.len + 2) / 3) + 1;
            unsigned char *b64 = malloc(n);
            if (!b64)
                goto out;
            EVP_EncodeBlock(b64, (const unsigned char *)c->ca_pem.data, (int)c->ca_pem.len);
            cJSON *v = cJSON_AddStringToObject(cl, "certificate-authority-data", (char *)b64);
            free(b64);
            if (!v)
                goto out;
        }
    }
    json = cJSON_PrintUnformatted(root);
    if (json) {
        struct ird_buf b = IRD_BUF_INIT;
        if (ird_buf_puts(&b, "KUBERNETES_EXEC_INFO=") == 0 && ird_buf_puts(&b, json) == 0)
            result = ird_buf_steal(&b);
        else
            ird_buf_free(&b);
    }
out:
    free(json);
    cJSON_Delete(root);
    return result;
}

static int env_overridden(const char *entry, char *const *extra, size_t nextra)
{
    const char *eq = strchr(entry, '=');
    size_t n = eq ? (size_t)(eq - entry) : strlen(entry);
    for (size_t i = 0; i < nextra; i++)
        if (strncmp(extra[i], entry, n) == 0 && extra[i][n] == '=')
            return 1;
    return 0;
}

/* Start the plugin. 0, or a negative errno with the reason in err. */
/* libuv leaves every descriptor above stdio to the child unless it is
 * close-on-exec, and libcurl 7.88 does not mark its sockets so: without this
 * a plugin would inherit ird's connections to the API server and others. */
static void cloexec_all(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || fd < 3 || fd == self)
            continue;
        int flags = fcntl((int)fd, F_GETFD);
        if (flags >= 0)
            fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    }
    closedir(d);
}

static int run_start(struct ird_k8s_credentials *c, uv_loop_t *loop, struct ird_err *err)
{
    const struct ird_k8s_exec *exec = c->token->exec;
    struct exec_run *r = calloc(1, sizeof(*r));
    char **argv = calloc(exec->nargs + 2, sizeof(char *));
    size_t nparent = 0;
    while (environ && environ[nparent])
        nparent++;
    char **extra = calloc(exec->nenv + 1, sizeof(char *));
    char **envp = calloc(nparent + exec->nenv + 2, sizeof(char *));
    char *info = exec_info_env(c);
    struct ird_buf label = IRD_BUF_INIT;
    int rc = -ENOMEM;
    if (!r || !argv || !extra || !envp || !info ||
        ird_buf_printf(&label, "exec plugin \"%s\"", exec->command)) {
        ird_err_set(err, rc, "exec plugin \"%s\": out of memory", exec->command);
        goto fail;
    }
    r->label = ird_buf_steal(&label);
    r->tail = &r->waiters;
    argv[0] = exec->command;
    for (size_t i = 0; i < exec->nargs; i++)
        argv[i + 1] = exec->args[i];
    size_t nextra = 0;
    for (size_t i = 0; i < exec->nenv; i++)
        extra[nextra++] = exec->env[i];
    extra[nextra++] = info;
    size_t ne = 0;
    for (size_t i = 0; i < nparent; i++)
        if (!env_overridden(environ[i], extra, nextra))
            envp[ne++] = environ[i];
    for (size_t i = 0; i < nextra; i++)
        envp[ne++] = extra[i];

    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->out},
        {.flags = UV_IGNORE},
    };
    uv_process_options_t opts = {
        .exit_cb = run_exit_cb,
        .file = exec->command,
        .args = argv,
        .env = envp,
        .stdio_count = 3,
        .stdio = stdio,
        .flags = UV_PROCESS_DETACHED,
    };
    r->proc.data = r->out.data = r->timer.data = r;
    uv_pipe_init(loop, &r->out, 0);
    uv_timer_init(loop, &r->timer);
    r->open_handles = 3;
    cloexec_all();
    rc = uv_spawn(loop, &r->proc, &opts);
    if (rc) {
        ird_err_set(err, rc, "%s could not be started: %s", r->label, ird_strerror(rc));
        r->finished = 1;
        run_close(r); /* uv_spawn initialised the process handle even on failure */
        r = NULL;
        goto fail;
    }
    r->creds = c;
    c->token->run = r;
    rc = uv_read_start((uv_stream_t *)&r->out, run_alloc_cb, run_read_cb);
    if (rc)
        r->eof = 1;
    r->timeout_ms = c->exec_timeout_ms > 0 ? c->exec_timeout_ms : IRD_K8S_EXEC_TIMEOUT_MS;
    uv_timer_start(&r->timer, run_timer_cb, (uint64_t)r->timeout_ms, 0);
    rc = 0;
fail:
    if (info)
        OPENSSL_cleanse(info, strlen(info));
    free(info);
    free(extra);
    free(envp);
    free(argv);
    ird_buf_free(&label);
    if (rc && r) {
        free(r->label);
        free(r);
    }
    return rc;
}

int ird_k8s_token_get(struct ird_k8s_credentials *c, uv_loop_t *loop, int64_t now_ms,
                      ird_k8s_token_cb cb, void *data, const char **ret_token, struct ird_err *err)
{
    struct ird_k8s_token_state *st = c->token;
    switch (c->token_kind) {
    case IRD_K8S_TOKEN_NONE:
        *ret_token = NULL;
        return 0;
    case IRD_K8S_TOKEN_STATIC:
        *ret_token = st->token;
        return 0;
    case IRD_K8S_TOKEN_FILE:
        file_token_refresh(st, now_ms);
        *ret_token = st->token;
        return 0;
    case IRD_K8S_TOKEN_EXEC:
        break;
    }
    if (st->have_exec_token && !st->stale && now_ms < st->expires_ms) {
        *ret_token = st->token;
        return 0;
    }
    if (!cb || !loop)
        return ird_err_set(err, -EINVAL, "an exec plugin token needs a loop and a callback");
    struct exec_waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return ird_err_set(err, -ENOMEM, "out of memory");
    w->cb = cb;
    w->data = data;
    if (!st->run) {
        int rc = run_start(c, loop, err);
        if (rc) {
            free(w);
            return rc;
        }
    }
    *st->run->tail = w;
    st->run->tail = &w->next;
    return IRD_K8S_TOKEN_PENDING;
}

/* ---- in-cluster ---- */

static const char *env_get(const struct ird_k8s_env *env, const char *name)
{
    if (env && env->getenv)
        return env->getenv(name, env->data);
    return getenv(name);
}

static int port_valid(const char *p)
{
    if (!*p || strlen(p) > 5)
        return 0;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v >= 1 && v <= 65535;
}

int ird_k8s_incluster_load(const struct ird_k8s_env *env, struct ird_k8s_credentials **ret_creds,
                           struct ird_err *err)
{
    const char *host = env_get(env, "KUBERNETES_SERVICE_HOST");
    const char *port = env_get(env, "KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return ird_err_set(err, -ENOENT,
                           "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are "
                           "not set (not running in a pod)");
    if (!port_valid(port))
        return ird_err_set(err, -EINVAL,
                           "in-cluster: KUBERNETES_SERVICE_PORT \"%.16s\" is not a port", port);
    const char *dir = env && env->sa_dir ? env->sa_dir : SA_DIR_DEFAULT;
    struct ird_k8s_credentials *c = ird_k8s_credentials_new();
    struct ird_buf b = IRD_BUF_INIT, path = IRD_BUF_INIT;
    int rc = -ENOMEM;
    if (!c)
        goto fail;
    int v6 = strchr(host, ':') != NULL && host[0] != '[';
    if (ird_buf_printf(&b, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port))
        goto fail;
    c->server = ird_buf_steal(&b);
    if (!(c->origin = strdup("in-cluster service account")))
        goto fail;

    if (ird_buf_printf(&path, "%s/token", dir))
        goto fail;
    rc = ird_k8s_token_use_file(c, path.data, err);
    if (rc) {
        ird_err_prefix(err, "in-cluster: ");
        goto fail;
    }

    ird_buf_reset(&path);
    if (ird_buf_printf(&path, "%s/ca.crt", dir))
        goto fail;
    rc = ird_k8s_file_read(path.data, IRD_K8S_FILE_MAX, &c->ca_pem);
    if (rc) {
        ird_buf_free(&c->ca_pem);
        ird_buf_reset(&b);
        if (ird_buf_printf(&b, "in-cluster: CA %s unreadable (%s); using the system trust store",
                           path.data, ird_strerror(rc)))
            goto fail;
        c->warning = ird_buf_steal(&b);
    }
    rc = -ENOMEM;

    const char *ns = env_get(env, "POD_NAMESPACE");
    if (ns && *ns) {
        c->namespace_ = strdup(ns);
    } else {
        ird_buf_reset(&path);
        ird_buf_reset(&b);
        if (ird_buf_printf(&path, "%s/namespace", dir))
            goto fail;
        if (ird_k8s_file_read(path.data, 4096, &b) == 0 && b.len)
            c->namespace_ = token_clean(b.data, b.len);
        if (!c->namespace_)
            c->namespace_ = strdup("default");
    }
    if (!c->namespace_)
        goto fail;
    ird_buf_free(&b);
    ird_buf_free(&path);
    *ret_creds = c;
    return 0;
fail:
    if (rc == -ENOMEM)
        ird_err_set(err, rc, "in-cluster: out of memory");
    ird_buf_free(&b);
    ird_buf_free(&path);
    ird_k8s_credentials_free(c);
    return rc;
}
