/* The kubeconfig loader: libyaml events into a small tree (no aliases), the
 * client-go merge of a KUBECONFIG path list, and the resolution of one context
 * into struct ird_k8s_credentials (server, CA, client certificate, token source). */
#include "k8s/credentials.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define YAML_DEPTH_MAX 32
#define NAME_FMT       "%.128s"

/* ---- a tiny YAML tree ---- */

enum ynode_kind { YN_SCALAR, YN_MAP, YN_SEQ };

struct ynode {
    enum ynode_kind kind;
    size_t line;
    char *value; /* scalar text, NUL-terminated */
    size_t len;
    int plain;           /* unquoted scalar: "", "~" and "null" mean null */
    struct ynode **kids; /* map: key, value, key, value...; seq: items */
    size_t n, cap;
};

static void ynode_free(struct ynode *y)
{
    if (!y)
        return;
    for (size_t i = 0; i < y->n; i++)
        ynode_free(y->kids[i]);
    free(y->kids);
    if (y->value) {
        OPENSSL_cleanse(y->value, y->len); /* tokens and keys live in scalars */
        free(y->value);
    }
    free(y);
}

static int ynode_add(struct ynode *y, struct ynode *kid)
{
    if (y->n == y->cap) {
        size_t cap = y->cap ? y->cap * 2 : 8;
        struct ynode **k = realloc(y->kids, cap * sizeof(*k));
        if (!k)
            return -ENOMEM;
        y->kids = k;
        y->cap = cap;
    }
    y->kids[y->n++] = kid;
    return 0;
}

static int y_next(yaml_parser_t *p, yaml_event_t *ev, struct ird_err *err)
{
    if (yaml_parser_parse(p, ev))
        return 0;
    return ird_err_set(err, -EINVAL, "line %zu: %s", p->problem_mark.line + 1,
                       p->problem ? p->problem : "YAML syntax error");
}

/* Build the node that starts with ev (consumed here). */
static int y_node(yaml_parser_t *p, yaml_event_t *ev, int depth, struct ynode **ret,
                  struct ird_err *err)
{
    size_t line = ev->start_mark.line + 1;
    if (ev->type == YAML_ALIAS_EVENT) {
        yaml_event_delete(ev);
        return ird_err_set(err, -EINVAL, "line %zu: YAML aliases are not supported", line);
    }
    if (depth > YAML_DEPTH_MAX) {
        yaml_event_delete(ev);
        return ird_err_set(err, -EINVAL, "line %zu: nested deeper than %d levels", line,
                           YAML_DEPTH_MAX);
    }
    struct ynode *y = calloc(1, sizeof(*y));
    if (!y) {
        yaml_event_delete(ev);
        return ird_err_set(err, -ENOMEM, "out of memory");
    }
    y->line = line;
    int rc = 0;
    if (ev->type == YAML_SCALAR_EVENT) {
        y->kind = YN_SCALAR;
        y->len = ev->data.scalar.length;
        y->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        y->value = malloc(y->len + 1);
        if (y->value) {
            memcpy(y->value, ev->data.scalar.value, y->len);
            y->value[y->len] = '\0';
            OPENSSL_cleanse(ev->data.scalar.value, y->len);
        } else {
            rc = ird_err_set(err, -ENOMEM, "out of memory");
        }
        yaml_event_delete(ev);
    } else if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) {
        int map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        y->kind = map ? YN_MAP : YN_SEQ;
        yaml_event_delete(ev);
        for (size_t i = 0; rc == 0; i++) {
            yaml_event_t kid_ev;
            if ((rc = y_next(p, &kid_ev, err)))
                break;
            if (kid_ev.type == end) {
                yaml_event_delete(&kid_ev);
                break;
            }
            struct ynode *kid = NULL;
            if ((rc = y_node(p, &kid_ev, depth + 1, &kid, err)))
                break;
            if (map && i % 2 == 0 && kid->kind != YN_SCALAR) {
                rc = ird_err_set(err, -EINVAL, "line %zu: a mapping key must be a plain string",
                                 kid->line);
                ynode_free(kid);
                break;
            }
            if ((rc = ynode_add(y, kid))) {
                ynode_free(kid);
                ird_err_set(err, rc, "out of memory");
            }
        }
    } else {
        yaml_event_delete(ev);
        rc = ird_err_set(err, -EINVAL, "line %zu: unexpected YAML event", line);
    }
    if (rc) {
        ynode_free(y);
        return rc;
    }
    *ret = y;
    return 0;
}

/* Parse the first document of text; *ret is NULL for an empty file. */
static int y_parse(const char *text, size_t len, struct ynode **ret, struct ird_err *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return ird_err_set(err, -ENOMEM, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0;
    *ret = NULL;
    for (;;) {
        yaml_event_t ev;
        if ((rc = y_next(&p, &ev, err)))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        rc = y_node(&p, &ev, 0, ret, err);
        break;
    }
    yaml_parser_delete(&p);
    return rc;
}

static const struct ynode *y_get(const struct ynode *m, const char *key)
{
    if (!m || m->kind != YN_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (strcmp(m->kids[i]->value, key) == 0)
            return m->kids[i + 1];
    return NULL;
}

static int y_is_null(const struct ynode *y)
{
    return !y || (y->kind == YN_SCALAR && y->plain &&
                  (y->len == 0 || strcmp(y->value, "~") == 0 || strcasecmp(y->value, "null") == 0));
}

/* ---- one field at a time, with messages naming the file and the entry ---- */

struct where {
    const char *file; /* kubeconfig path */
    const char *what; /* `user "u"` */
    struct ird_err *err;
};

static int fail(const struct where *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(const struct where *w, int code, const char *fmt, ...)
{
    if (!w->err)
        return code;
    char msg[sizeof(w->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (w->what)
        return ird_err_set(w->err, code, "kubeconfig %s: %s: %s", w->file, w->what, msg);
    return ird_err_set(w->err, code, "kubeconfig %s: %s", w->file, msg);
}

/* A string field: 0 with *ret (NULL when absent, null or empty) or -EINVAL. */
static int f_str(const struct where *w, const struct ynode *m, const char *key, const char **ret)
{
    const struct ynode *y = y_get(m, key);
    *ret = NULL;
    if (y_is_null(y))
        return 0;
    if (y->kind != YN_SCALAR)
        return fail(w, -EINVAL, "%s must be a string (line %zu)", key, y->line);
    if (y->len)
        *ret = y->value;
    return 0;
}

static int f_bool(const struct where *w, const struct ynode *m, const char *key, int *ret)
{
    static const char *const yes[] = {"true", "yes", "on", "y"};
    static const char *const no[] = {"false", "no", "off", "n"};
    const struct ynode *y = y_get(m, key);
    *ret = 0;
    if (y_is_null(y))
        return 0;
    if (y->kind == YN_SCALAR) {
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
            if (strcasecmp(y->value, yes[i]) == 0) {
                *ret = 1;
                return 0;
            }
            if (strcasecmp(y->value, no[i]) == 0)
                return 0;
        }
    }
    return fail(w, -EINVAL, "%s must be true or false (line %zu)", key, y->line);
}

static int f_list(const struct where *w, const struct ynode *m, const char *key,
                  const struct ynode **ret)
{
    const struct ynode *y = y_get(m, key);
    *ret = NULL;
    if (y_is_null(y))
        return 0;
    if (y->kind != YN_SEQ)
        return fail(w, -EINVAL, "%s must be a list (line %zu)", key, y->line);
    *ret = y;
    return 0;
}

static int f_map(const struct where *w, const struct ynode *m, const char *key,
                 const struct ynode **ret)
{
    const struct ynode *y = y_get(m, key);
    *ret = NULL;
    if (y_is_null(y))
        return 0;
    if (y->kind != YN_MAP)
        return fail(w, -EINVAL, "%s must be a mapping (line %zu)", key, y->line);
    *ret = y;
    return 0;
}

/* ---- files ---- */

struct kfile {
    char *path;
    char *dir;
    struct ynode *root;
};

struct kconf {
    struct kfile *files;
    size_t n;
    const char *list; /* the path list, for "not found" messages */
};

static void kconf_free(struct kconf *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->files[i].path);
        free(k->files[i].dir);
        ynode_free(k->files[i].root);
    }
    free(k->files);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Resolve a path from a kubeconfig against that file's directory. */
static char *resolve(const char *dir, const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    struct ird_buf b = IRD_BUF_INIT;
    if (ird_buf_printf(&b, "%s/%s", dir, path)) {
        ird_buf_free(&b);
        return NULL;
    }
    return ird_buf_steal(&b);
}

/* Read and parse one file; 1 when it does not exist (skipped), 0, or -errno. */
static int kfile_load(struct kconf *k, const char *path, struct ird_err *err)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->files[i].path, path) == 0)
            return 0; /* listed twice */
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_k8s_file_read(path, IRD_K8S_FILE_MAX, &b);
    if (rc == -ENOENT) {
        ird_k8s_buf_wipe(&b);
        return 1;
    }
    if (rc) {
        ird_k8s_buf_wipe(&b);
        if (rc == -EFBIG)
            return ird_err_set(err, rc, "kubeconfig %s: larger than %d bytes", path,
                               IRD_K8S_FILE_MAX);
        return ird_err_set(err, rc, "kubeconfig %s: %s", path, ird_strerror(rc));
    }
    struct ynode *root = NULL;
    rc = y_parse(b.data ? b.data : "", b.len, &root, err);
    ird_k8s_buf_wipe(&b);
    if (rc) {
        ird_err_prefix(err, "kubeconfig %s: ", path);
        return rc;
    }
    if (root && root->kind != YN_MAP && !y_is_null(root)) {
        ynode_free(root);
        return ird_err_set(err, -EINVAL, "kubeconfig %s: the top level is not a mapping", path);
    }
    struct kfile *files = realloc(k->files, (k->n + 1) * sizeof(*files));
    if (!files) {
        ynode_free(root);
        return ird_err_set(err, -ENOMEM, "out of memory");
    }
    k->files = files;
    struct kfile *f = &k->files[k->n];
    memset(f, 0, sizeof(*f));
    f->path = strdup(path);
    f->dir = dir_of(path);
    f->root = root;
    k->n++;
    if (!f->path || !f->dir)
        return ird_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static int kconf_load(struct kconf *k, const char *list, struct ird_err *err)
{
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n) {
            char *path = strndup(p, n);
            if (!path)
                return ird_err_set(err, -ENOMEM, "out of memory");
            int rc = kfile_load(k, path, err);
            free(path);
            if (rc < 0)
                return rc;
        }
        p += n;
        if (*p == ':')
            p++;
    }
    if (k->n == 0)
        return ird_err_set(err, -ENOENT, "kubeconfig %s: no such file", list);
    return 0;
}

/* The first entry named name in section (clusters, users, contexts) across the
 * files, in order: 1 found (*ret_body may be NULL for an empty entry), 0 not
 * found, or -EINVAL for a malformed section. */
static int kconf_find(const struct kconf *k, const char *section, const char *body,
                      const char *name, const struct ynode **ret_body,
                      const struct kfile **ret_file, struct ird_err *err)
{
    for (size_t i = 0; i < k->n; i++) {
        const struct kfile *f = &k->files[i];
        struct where w = {f->path, NULL, err};
        const struct ynode *seq;
        int rc = f_list(&w, f->root, section, &seq);
        if (rc)
            return rc;
        for (size_t j = 0; seq && j < seq->n; j++) {
            const struct ynode *item = seq->kids[j];
            const char *n = NULL;
            if (item->kind != YN_MAP)
                return fail(&w, -EINVAL, "%s[%zu] must be a mapping (line %zu)", section, j,
                            item->line);
            if ((rc = f_str(&w, item, "name", &n)))
                return rc;
            if (!n || strcmp(n, name) != 0)
                continue;
            if ((rc = f_map(&w, item, body, ret_body)))
                return rc;
            *ret_file = f;
            return 1;
        }
    }
    return 0;
}

/* ---- base64 and PEM ---- */

/* Decode standard base64 (line breaks allowed, as Go's decoder allows them)
 * into out. 0 or -EINVAL. */
static int b64_decode(const char *s, size_t len, struct ird_buf *out)
{
    char *clean = malloc(len + 1);
    if (!clean)
        return -ENOMEM;
    size_t n = 0, pad = 0;
    int rc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t')
            continue;
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 ch == '+' || ch == '/';
        if (ch == '=') {
            pad++;
        } else if (!ok || pad) {
            rc = -EINVAL; /* a bad character, or data after padding */
            break;
        }
        clean[n++] = (char)ch;
    }
    if (rc == 0 && (n == 0 || n % 4 != 0 || pad > 2 || n > INT32_MAX))
        rc = -EINVAL;
    if (rc == 0 && (rc = ird_buf_reserve(out, n / 4 * 3)) == 0) {
        int got = EVP_DecodeBlock((unsigned char *)out->data + out->len,
                                  (const unsigned char *)clean, (int)n);
        if (got < 0 || (size_t)got < pad) {
            rc = -EINVAL;
        } else {
            out->len += (size_t)got - pad;
            out->data[out->len] = '\0';
        }
    }
    OPENSSL_cleanse(clean, len + 1);
    free(clean);
    return rc;
}

enum pem_kind { PEM_CERT, PEM_KEY };

static int pem_ok(const struct ird_buf *b, enum pem_kind kind)
{
    if (!b->len)
        return 0;
    if (kind == PEM_CERT)
        return strstr(b->data, "-----BEGIN CERTIFICATE-----") != NULL;
    return strstr(b->data, "-----BEGIN ") != NULL && strstr(b->data, "PRIVATE KEY-----") != NULL;
}

/* Fill out from `<field>-data` (base64) or `<field>` (a file resolved against
 * the kubeconfig's directory). The -data form wins, as in client-go. */
static int load_pem(const struct where *w, const struct kfile *f, const struct ynode *m,
                    const char *field, enum pem_kind kind, struct ird_buf *out)
{
    char key[64];
    snprintf(key, sizeof(key), "%s-data", field);
    const char *data, *file;
    int rc = f_str(w, m, key, &data);
    if (rc || (rc = f_str(w, m, field, &file)))
        return rc;
    const char *what = kind == PEM_CERT ? "a PEM certificate" : "a PEM private key";
    if (data) {
        rc = b64_decode(data, strlen(data), out);
        if (rc == -ENOMEM)
            return fail(w, rc, "out of memory");
        if (rc)
            return fail(w, rc, "%s is not valid base64", key);
        if (!pem_ok(out, kind))
            return fail(w, -EINVAL, "%s does not hold %s", key, what);
        return 0;
    }
    if (!file)
        return 0;
    char *path = resolve(f->dir, file);
    if (!path)
        return fail(w, -ENOMEM, "out of memory");
    rc = ird_k8s_file_read(path, IRD_K8S_FILE_MAX, out);
    if (rc == -EFBIG)
        rc = fail(w, rc, "%s %s is larger than %d bytes", field, path, IRD_K8S_FILE_MAX);
    else if (rc)
        rc = fail(w, rc, "%s %s: %s", field, path, ird_strerror(rc));
    else if (!pem_ok(out, kind))
        rc = fail(w, -EINVAL, "%s %s does not hold %s", field, path, what);
    free(path);
    return rc;
}

/* ---- entries ---- */

static int add_warning(struct ird_k8s_credentials *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int add_warning(struct ird_k8s_credentials *c, const char *fmt, ...)
{
    struct ird_buf b = IRD_BUF_INIT;
    if (c->warning && (ird_buf_puts(&b, c->warning) || ird_buf_puts(&b, "; ")))
        goto oom;
    va_list ap;
    va_start(ap, fmt);
    int rc = ird_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc)
        goto oom;
    free(c->warning);
    c->warning = ird_buf_steal(&b);
    return 0;
oom:
    ird_buf_free(&b);
    return -ENOMEM;
}

static int load_cluster(struct ird_k8s_credentials *c, const struct kfile *f, const struct ynode *m,
                        const char *name, struct ird_err *err)
{
    char what[160];
    snprintf(what, sizeof(what), "cluster \"" NAME_FMT "\"", name);
    struct where w = {f->path, what, err};
    const char *server, *sni, *proxy;
    int rc;
    if ((rc = f_str(&w, m, "server", &server)) || (rc = f_str(&w, m, "tls-server-name", &sni)) ||
        (rc = f_str(&w, m, "proxy-url", &proxy)) ||
        (rc = f_bool(&w, m, "insecure-skip-tls-verify", &c->insecure_skip_verify)))
        return rc;
    if (!server)
        return fail(&w, -EINVAL, "server is not set");
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
        return fail(&w, -EINVAL, "server \"%.200s\" is not an http:// or https:// URL", server);
    size_t n = strlen(server);
    while (n > 8 && server[n - 1] == '/')
        n--;
    if (!(c->server = strndup(server, n)) || (sni && !(c->tls_server_name = strdup(sni))))
        return fail(&w, -ENOMEM, "out of memory");
    if ((rc = load_pem(&w, f, m, "certificate-authority", PEM_CERT, &c->ca_pem)))
        return rc;
    if (c->insecure_skip_verify &&
        add_warning(c,
                    "cluster \"" NAME_FMT "\": insecure-skip-tls-verify is set, the server's "
                    "certificate is not verified",
                    name))
        return fail(&w, -ENOMEM, "out of memory");
    if (proxy &&
        add_warning(c, "cluster \"" NAME_FMT "\": proxy-url is not supported and is ignored", name))
        return fail(&w, -ENOMEM, "out of memory");
    return 0;
}

static int dup_list_item(const struct where *w, const struct ynode *y, const char *field, size_t i,
                         char **ret)
{
    if (y->kind != YN_SCALAR)
        return fail(w, -EINVAL, "exec.%s[%zu] must be a string (line %zu)", field, i, y->line);
    if (!(*ret = strdup(y->value)))
        return fail(w, -ENOMEM, "out of memory");
    return 0;
}

static int load_exec(const struct where *w, const struct kfile *f, const struct ynode *m,
                     struct ird_k8s_exec **ret)
{
    static const char *const versions[] = {"client.authentication.k8s.io/v1",
                                           "client.authentication.k8s.io/v1beta1"};
    static const char *const modes[] = {"Never", "IfAvailable"};
    const char *api, *cmd, *mode;
    const struct ynode *args, *env;
    int rc;
    if ((rc = f_str(w, m, "apiVersion", &api)) || (rc = f_str(w, m, "command", &cmd)) ||
        (rc = f_str(w, m, "interactiveMode", &mode)) || (rc = f_list(w, m, "args", &args)) ||
        (rc = f_list(w, m, "env", &env)))
        return rc;
    if (!cmd)
        return fail(w, -EINVAL, "exec.command is not set");
    if (!api)
        return fail(w, -EINVAL, "exec.apiVersion is not set");
    size_t v = 0;
    while (v < sizeof(versions) / sizeof(versions[0]) && strcmp(api, versions[v]) != 0)
        v++;
    if (v == sizeof(versions) / sizeof(versions[0]))
        return fail(w, -EINVAL,
                    "exec.apiVersion \"%.100s\" is not supported (use "
                    "client.authentication.k8s.io/v1 or v1beta1)",
                    api);
    if (mode) {
        size_t i = 0;
        while (i < sizeof(modes) / sizeof(modes[0]) && strcmp(mode, modes[i]) != 0)
            i++;
        if (strcmp(mode, "Always") == 0)
            return fail(w, -EINVAL,
                        "exec.interactiveMode is Always, but ird runs plugins "
                        "without a terminal");
        if (i == sizeof(modes) / sizeof(modes[0]))
            return fail(w, -EINVAL,
                        "exec.interactiveMode \"%.32s\" is not Never, IfAvailable "
                        "or Always",
                        mode);
    }
    struct ird_k8s_exec *e = calloc(1, sizeof(*e));
    if (!e)
        return fail(w, -ENOMEM, "out of memory");
    if (!(e->api_version = strdup(api)) || (mode && !(e->interactive_mode = strdup(mode))))
        goto oom;
    /* A command with a slash is a path: relative ones resolve against the
     * kubeconfig's directory; a bare name is searched in PATH. */
    e->command = strchr(cmd, '/') ? resolve(f->dir, cmd) : strdup(cmd);
    if (!e->command)
        goto oom;
    if ((rc = f_bool(w, m, "provideClusterInfo", &e->provide_cluster_info)))
        goto out;
    if (args && args->n) {
        if (!(e->args = calloc(args->n, sizeof(char *))))
            goto oom;
        for (; e->nargs < args->n; e->nargs++)
            if ((rc = dup_list_item(w, args->kids[e->nargs], "args", e->nargs, &e->args[e->nargs])))
                goto out;
    }
    if (env && env->n) {
        if (!(e->env = calloc(env->n, sizeof(char *))))
            goto oom;
        for (size_t i = 0; i < env->n; i++) {
            const struct ynode *item = env->kids[i];
            const char *name, *value;
            if (item->kind != YN_MAP) {
                rc = fail(w, -EINVAL, "exec.env[%zu] must be a mapping (line %zu)", i, item->line);
                goto out;
            }
            if ((rc = f_str(w, item, "name", &name)) || (rc = f_str(w, item, "value", &value)))
                goto out;
            if (!name || strchr(name, '=')) {
                rc = fail(w, -EINVAL, "exec.env[%zu].name must be set and have no '=' (line %zu)",
                          i, item->line);
                goto out;
            }
            struct ird_buf b = IRD_BUF_INIT;
            if (ird_buf_printf(&b, "%s=%s", name, value ? value : "")) {
                ird_buf_free(&b);
                goto oom;
            }
            e->env[e->nenv++] = ird_buf_steal(&b);
        }
    }
    *ret = e;
    return 0;
oom:
    rc = fail(w, -ENOMEM, "out of memory");
out:
    ird_k8s_exec_free(e);
    return rc;
}

static int load_user(struct ird_k8s_credentials *c, const struct kfile *f, const struct ynode *m,
                     const char *name, struct ird_err *err)
{
    char what[160];
    snprintf(what, sizeof(what), "user \"" NAME_FMT "\"", name);
    struct where w = {f->path, what, err};
    const char *token, *token_file, *username;
    const struct ynode *exec, *provider;
    int rc;
    if ((rc = f_str(&w, m, "token", &token)) || (rc = f_str(&w, m, "tokenFile", &token_file)) ||
        (rc = f_str(&w, m, "username", &username)) || (rc = f_map(&w, m, "exec", &exec)) ||
        (rc = f_map(&w, m, "auth-provider", &provider)))
        return rc;
    if (provider)
        return fail(&w, -ENOTSUP, "auth-provider plugins are not supported; use an exec plugin");
    if (exec && (token || token_file))
        return fail(&w, -EINVAL, "has both exec and a token; keep one");
    if (username && add_warning(c,
                                "user \"" NAME_FMT "\": basic authentication "
                                "(username/password) is not supported and is ignored",
                                name))
        return fail(&w, -ENOMEM, "out of memory");

    if ((rc = load_pem(&w, f, m, "client-certificate", PEM_CERT, &c->cert_pem)) ||
        (rc = load_pem(&w, f, m, "client-key", PEM_KEY, &c->key_pem)))
        return rc;
    if (!c->cert_pem.len != !c->key_pem.len)
        return fail(&w, -EINVAL, "has a client %s but no client %s",
                    c->cert_pem.len ? "certificate" : "key",
                    c->cert_pem.len ? "key" : "certificate");

    if (token_file) {
        /* client-go: the file wins over token and is re-read as it rotates. */
        char *path = resolve(f->dir, token_file);
        if (!path)
            return fail(&w, -ENOMEM, "out of memory");
        struct ird_err ferr = {{0}};
        rc = ird_k8s_token_use_file(c, path, &ferr);
        free(path);
        if (rc && token)
            rc = ird_k8s_token_use_static(c, token);
        if (rc)
            return fail(&w, rc, "tokenFile: %s", ferr.msg);
    } else if (token) {
        if ((rc = ird_k8s_token_use_static(c, token)))
            return fail(&w, rc, "token is empty or holds control characters");
    } else if (exec) {
        struct ird_k8s_exec *e = NULL;
        if ((rc = load_exec(&w, f, exec, &e)))
            return rc;
        if ((rc = ird_k8s_token_use_exec(c, e)))
            return fail(&w, rc, "exec: out of memory");
    }
    return 0;
}

static const char *current_context(const struct kconf *k, struct ird_err *err, int *rc)
{
    *rc = 0;
    for (size_t i = 0; i < k->n; i++) {
        struct where w = {k->files[i].path, NULL, err};
        const char *cur;
        if ((*rc = f_str(&w, k->files[i].root, "current-context", &cur)))
            return NULL;
        if (cur)
            return cur;
    }
    return NULL;
}

static int kconf_resolve(const struct kconf *k, const char *context, struct ird_k8s_credentials *c,
                         struct ird_err *err)
{
    int rc;
    if (!context || !*context) {
        context = current_context(k, err, &rc);
        if (rc)
            return rc;
        if (!context)
            return ird_err_set(err, -EINVAL,
                               "kubeconfig %s: no current-context is set and no context was given",
                               k->list);
    }
    const struct ynode *ctx = NULL, *cluster = NULL, *user = NULL;
    const struct kfile *cf = NULL, *clf = NULL, *uf = NULL;
    rc = kconf_find(k, "contexts", "context", context, &ctx, &cf, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ird_err_set(err, -ENOENT, "kubeconfig %s: context \"" NAME_FMT "\" not found",
                           k->list, context);
    char what[160];
    snprintf(what, sizeof(what), "context \"" NAME_FMT "\"", context);
    struct where w = {cf->path, what, err};
    const char *cluster_name, *user_name, *ns;
    if ((rc = f_str(&w, ctx, "cluster", &cluster_name)) ||
        (rc = f_str(&w, ctx, "user", &user_name)) || (rc = f_str(&w, ctx, "namespace", &ns)))
        return rc;
    if (!cluster_name)
        return fail(&w, -EINVAL, "no cluster is set");
    rc = kconf_find(k, "clusters", "cluster", cluster_name, &cluster, &clf, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ird_err_set(err, -ENOENT,
                           "kubeconfig %s: context \"" NAME_FMT "\": cluster \"" NAME_FMT
                           "\" not found",
                           k->list, context, cluster_name);
    if ((rc = load_cluster(c, clf, cluster, cluster_name, err)))
        return rc;
    if (user_name) {
        rc = kconf_find(k, "users", "user", user_name, &user, &uf, err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return ird_err_set(err, -ENOENT,
                               "kubeconfig %s: context \"" NAME_FMT "\": user \"" NAME_FMT
                               "\" not found",
                               k->list, context, user_name);
        if ((rc = load_user(c, uf, user, user_name, err)))
            return rc;
    }
    struct ird_buf origin = IRD_BUF_INIT;
    if (!(c->namespace_ = strdup(ns ? ns : "default")) ||
        ird_buf_printf(&origin, "kubeconfig %s, context \"" NAME_FMT "\"", cf->path, context)) {
        ird_buf_free(&origin);
        return ird_err_set(err, -ENOMEM, "out of memory");
    }
    c->origin = ird_buf_steal(&origin);
    return 0;
}

static const char *env_get(const struct ird_k8s_env *env, const char *name)
{
    if (env && env->getenv)
        return env->getenv(name, env->data);
    return getenv(name);
}

int ird_k8s_kubeconfig_load(const struct ird_k8s_kubeconfig_opts *opts,
                            struct ird_k8s_credentials **ret_creds, struct ird_err *err)
{
    const struct ird_k8s_env *env = opts ? opts->env : NULL;
    const char *list = opts ? opts->paths : NULL;
    struct ird_buf home_path = IRD_BUF_INIT;
    if (!list || !*list)
        list = env_get(env, "KUBECONFIG");
    if (!list || !*list) {
        const char *home = env_get(env, "HOME");
        if (!home || !*home)
            return ird_err_set(err, -ENOENT, "kubeconfig: neither KUBECONFIG nor HOME is set");
        if (ird_buf_printf(&home_path, "%s/.kube/config", home)) {
            ird_buf_free(&home_path);
            return ird_err_set(err, -ENOMEM, "out of memory");
        }
        list = home_path.data;
    }
    struct kconf k = {.list = list};
    struct ird_k8s_credentials *c = NULL;
    int rc = kconf_load(&k, list, err);
    if (rc == 0 && !(c = ird_k8s_credentials_new()))
        rc = ird_err_set(err, -ENOMEM, "out of memory");
    if (rc == 0)
        rc = kconf_resolve(&k, opts ? opts->context : NULL, c, err);
    kconf_free(&k);
    ird_buf_free(&home_path);
    if (rc) {
        ird_k8s_credentials_free(c);
        return rc;
    }
    *ret_creds = c;
    return 0;
}
