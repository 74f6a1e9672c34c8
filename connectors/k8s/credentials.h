/* Kubernetes credentials: everything the HTTP client needs to talk to one
 * cluster (server URL, namespace, CA, client certificate, bearer token), loaded
 * from kubeconfig files or from the in-cluster service account.
 *
 * Glossary:
 *   credentials   one struct ird_k8s_credentials; the caller owns it and frees
 *                 it with ird_k8s_credentials_free().
 *   token source  where the bearer token comes from: none, a static string, a
 *                 file re-read at most once a minute (tokenFile, the service
 *                 account token), or an exec credential plugin run with
 *                 uv_spawn whose answer is cached until it expires.
 *   exec plugin   a user's program (aws eks get-token, gke-gcloud-auth-plugin,
 *                 kubelogin...) printing an ExecCredential JSON on stdout.
 *
 * Nothing here logs: loaders hand back a warning string for the caller to log,
 * and no error message ever contains a token, a key or plugin output.
 * The file kubeconfig.c owns the kubeconfig loader; credentials.c owns the rest. */
#ifndef IRD_K8S_CREDENTIALS_H
#define IRD_K8S_CREDENTIALS_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Limits on files we read: kubeconfig, CA, certificate and key files. */
#define IRD_K8S_FILE_MAX       (1024 * 1024)
#define IRD_K8S_TOKEN_FILE_MAX (64 * 1024)
/* A token file is re-read at most this often (client-go does the same). */
#define IRD_K8S_TOKEN_REREAD_MS 60000
/* Exec plugins: stdout bound, default timeout, and how long before the
 * credential's expirationTimestamp we stop using it. */
#define IRD_K8S_EXEC_OUTPUT_MAX       (1024 * 1024)
#define IRD_K8S_EXEC_TIMEOUT_MS       30000
#define IRD_K8S_EXEC_EXPIRY_MARGIN_MS 10000
/* ird_k8s_token_get() result: an exec plugin runs; the callback will be called. */
#define IRD_K8S_TOKEN_PENDING 1

enum ird_k8s_token_kind {
    IRD_K8S_TOKEN_NONE,   /* anonymous, or client certificate only */
    IRD_K8S_TOKEN_STATIC, /* users[].user.token */
    IRD_K8S_TOKEN_FILE,   /* tokenFile, in-cluster service account token */
    IRD_K8S_TOKEN_EXEC,   /* users[].user.exec */
};

/* An exec credential plugin, as configured in users[].user.exec. Every string
 * is owned by the struct; ird_k8s_exec_free() releases it. */
struct ird_k8s_exec {
    char *api_version; /* client.authentication.k8s.io/v1 or v1beta1 */
    char *command;     /* absolute path, or a bare name searched in PATH */
    char **args;       /* nargs strings, passed as argv[1..] */
    size_t nargs;
    char **env; /* nenv "NAME=VALUE" strings added to the parent's environment */
    size_t nenv;
    int provide_cluster_info; /* put spec.cluster into KUBERNETES_EXEC_INFO */
    char *interactive_mode;   /* Never, IfAvailable or NULL; Always is refused at load */
};

struct ird_k8s_token_state; /* private to credentials.c */

struct ird_k8s_credentials {
    char *server;            /* "https://host:port", no trailing slash */
    char *namespace_;        /* context namespace, in-cluster namespace, or "default" */
    struct ird_buf ca_pem;   /* CA bundle (PEM) or empty: use the system store */
    struct ird_buf cert_pem; /* client certificate (PEM) or empty */
    struct ird_buf key_pem;  /* client key (PEM) or empty; wiped on free */
    char *tls_server_name;   /* SNI / verification name override, or NULL */
    int insecure_skip_verify;
    /* Bumped whenever cert_pem/key_pem change (an exec plugin may return a
     * client certificate): the HTTP client rebuilds its TLS setup when it moves. */
    unsigned tls_generation;
    /* Where these came from, for logs: `kubeconfig /x/config, context "prod"` or
     * `in-cluster service account`. Never contains a secret. */
    char *origin;
    /* NULL, or one line for the caller to log at warning level (insecure TLS,
     * an unreadable in-cluster CA, ignored fields). */
    char *warning;
    /* Exec plugin timeout in ms (IRD_K8S_EXEC_TIMEOUT_MS by default). */
    int64_t exec_timeout_ms;
    enum ird_k8s_token_kind token_kind;
    struct ird_k8s_token_state *token; /* private */
};

/* Where the loaders read the environment and the service account: tests inject
 * both. A NULL struct, or NULL members, mean the real process environment and
 * /var/run/secrets/kubernetes.io/serviceaccount. */
struct ird_k8s_env {
    const char *(*getenv)(const char *name, void *data);
    void *data;
    const char *sa_dir; /* directory holding token, ca.crt, namespace */
};

struct ird_k8s_kubeconfig_opts {
    /* Colon-separated kubeconfig files, merged as client-go does (for each
     * cluster, user and context name the first file defining it wins; the first
     * current-context wins; missing files are skipped). NULL: $KUBECONFIG, or
     * $HOME/.kube/config when that is unset or empty. */
    const char *paths;
    const char *context; /* NULL or "": the merged current-context */
    const struct ird_k8s_env *env;
};

/* An empty credentials struct (no server, no token), for building by hand.
 * Returns NULL when out of memory. */
struct ird_k8s_credentials *ird_k8s_credentials_new(void);

/* Free everything, wiping secret bytes first; NULL is a no-op. An exec plugin
 * still running is killed; waiting callbacks are called with -ECANCELED before
 * this returns, and the plugin's handles are closed on the loop afterwards (run
 * the loop until it has no more handles before uv_loop_close). */
void ird_k8s_credentials_free(struct ird_k8s_credentials *c);

/* Load credentials from kubeconfig files. 0 and *ret_creds (caller frees), or
 * a negative errno with a reason naming the file in err, such as
 * `kubeconfig /x/config: context "prod" not found` or
 * `kubeconfig /x/config: user "u": client-key-data is not valid base64`.
 * -ENOENT when no kubeconfig file exists. *ret_creds is untouched on failure. */
int ird_k8s_kubeconfig_load(const struct ird_k8s_kubeconfig_opts *opts,
                            struct ird_k8s_credentials **ret_creds, struct ird_err *err);

/* Load the in-cluster service account credentials: server from
 * KUBERNETES_SERVICE_HOST/PORT (IPv6 in brackets), token (re-read) and ca.crt
 * from env->sa_dir, namespace from POD_NAMESPACE, the namespace file, or
 * "default". -ENOENT when the two variables are not set (not in a cluster);
 * an unreadable ca.crt is only a warning, an unreadable token an error. */
int ird_k8s_incluster_load(const struct ird_k8s_env *env, struct ird_k8s_credentials **ret_creds,
                           struct ird_err *err);

/* Token sources, for building by hand (the loaders call these). Each replaces
 * the previous source and returns 0 or -ENOMEM; the file variant reads the file
 * once now and fails (-errno, reason in err) if it is unreadable or empty. The
 * exec variant takes ownership of exec, even on failure. */
int ird_k8s_token_use_static(struct ird_k8s_credentials *c, const char *token);
int ird_k8s_token_use_file(struct ird_k8s_credentials *c, const char *path, struct ird_err *err);
int ird_k8s_token_use_exec(struct ird_k8s_credentials *c, struct ird_k8s_exec *exec);

typedef void (*ird_k8s_token_cb)(int status, const char *token, const struct ird_err *err,
                                 void *data);

/* The bearer token to send now. Three outcomes:
 *   0: *ret_token is the token (NULL when the source is none), borrowed until
 *      the next call on c; cb is not called. A token file due for a re-read
 *      (IRD_K8S_TOKEN_REREAD_MS since the last one, or invalidated) is read
 *      again, trimmed; an empty or unreadable re-read keeps the old token.
 *   IRD_K8S_TOKEN_PENDING: an exec plugin runs on loop (or already ran for an
 *      earlier caller); cb(status, token, err, data) is called once from the
 *      loop, status 0 with the token (valid during the callback only) or a
 *      negative errno with a reason. Every caller waits on the same run.
 *   negative errno: failure (a plugin could not be started), reason in err;
 *      cb is not called.
 * now_ms is the caller's clock, compared with the file's last read and the
 * exec credential's expirationTimestamp. */
int ird_k8s_token_get(struct ird_k8s_credentials *c, uv_loop_t *loop, int64_t now_ms,
                      ird_k8s_token_cb cb, void *data, const char **ret_token, struct ird_err *err);

/* Forget the cached token (the connector calls this after a 401): the next
 * ird_k8s_token_get() re-reads the file or re-runs the plugin. */
void ird_k8s_token_invalidate(struct ird_k8s_credentials *c);

/* Free an exec plugin configuration; NULL is a no-op. */
void ird_k8s_exec_free(struct ird_k8s_exec *exec);

/* Read a whole file of at most limit bytes into out (appended, NUL-terminated).
 * 0, -EFBIG when larger, or the negative errno of open/read. */
int ird_k8s_file_read(const char *path, size_t limit, struct ird_buf *out);

/* Wipe and free a buffer that may hold a secret. */
void ird_k8s_buf_wipe(struct ird_buf *b);

#endif
