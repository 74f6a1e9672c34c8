/* k8s.rotate_secrets: new random values (getrandom) for a named Secret or for
 * every Secret the target pod uses, PUT with the resourceVersion read (a 409
 * Conflict re-reads and redoes, bounded), then optionally a rollout restart of
 * the Deployments, StatefulSets and DaemonSets using a rotated Secret.
 * The result lists names and keys, never values. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/clock.h"
#include "k8s/k8s.h"

#define ROTATED_BY_ANNOTATION "ird.io/rotated-by"

static const char *const workload_kinds[] = {"Deployment", "StatefulSet", "DaemonSet"};
#define NKINDS (sizeof(workload_kinds) / sizeof(workload_kinds[0]))

struct rotate {
    const char *ns, *pod, *secret, *incident;
    bool restart;
    const char **keys, **types;
    size_t nkeys, ntypes;
    struct ird_k8s_rotate_opts opts;
    cJSON *names; /* Secrets to rotate, in order */
    int idx;
    unsigned conflicts;
    bool guarded; /* the current Secret passed the guard */
    cJSON *used;  /* names rotated (or already rotated for this incident): restart input */
    cJSON *out_secrets, *out_restarted, *out_skipped; /* in op->result */
    size_t kind;
    cJSON *workloads;
    int widx;
};

static void rotate_free(void *p)
{
    struct rotate *st = p;
    if (!st)
        return;
    free(st->keys);
    free(st->types);
    cJSON_Delete(st->names);
    cJSON_Delete(st->used);
    cJSON_Delete(st->workloads);
    free(st);
}

static int random_bytes(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A list parameter as an array of borrowed strings (NULL, 0 when absent). */
static int str_list(const cJSON *list, const char ***ret, size_t *ret_n)
{
    size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0;
    *ret = NULL;
    *ret_n = 0;
    if (!n)
        return 0;
    const char **v = calloc(n, sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
        if (cJSON_IsString(it))
            v[i++] = it->valuestring;
    *ret = v;
    *ret_n = i;
    return 0;
}

static bool name_in(const cJSON *names, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, names)
        if (cJSON_IsString(it) && strcmp(it->valuestring, name) == 0)
            return true;
    return false;
}

static void add_name(cJSON *names, const char *name)
{
    if (!name_in(names, name))
        cJSON_AddItemToArray(names, cJSON_CreateString(name));
}

static void skip(struct rotate *st, const char *name, const char *reason)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "name", name);
    cJSON_AddStringToObject(s, "reason", reason);
    cJSON_AddItemToArray(st->out_skipped, s);
}

/* ---- restart phase -------------------------------------------------------------------- */

static void restart_next_kind(struct k8s_op *op);
static void restart_next(struct k8s_op *op);

static void on_restarted(struct k8s_op *op, const struct k8s_resp *r)
{
    if (!k8s_ok(r)) {
        k8s_fail_resp(op, r, "rollout restart");
        return;
    }
    restart_next(op);
}

static void restart_next(struct k8s_op *op)
{
    struct rotate *st = op->state;
    const struct ird_k8s_kind *kind = ird_k8s_kind_find(workload_kinds[st->kind]);
    while (st->widx < cJSON_GetArraySize(st->workloads)) {
        const cJSON *w = cJSON_GetArrayItem(st->workloads, st->widx++);
        bool uses = false;
        const cJSON *it;
        cJSON_ArrayForEach(it, st->used)
            uses = uses || ird_k8s_workload_uses_secret(w, it->valuestring);
        if (!uses)
            continue;
        const char *name = ird_k8s_req_str(cJSON_GetObjectItemCaseSensitive(w, "metadata"), "name");
        if (!name)
            continue;
        if (k8s_guard(op, kind->kind, st->ns, name, k8s_labels(w)) < 0)
            return;
        struct ird_k8s_request req = {0};
        struct ird_err err = {{0}};
        int rc = ird_k8s_workload_restart(kind, w, ird_clock_now_ms(), &req, &err);
        if (rc < 0) {
            k8s_fail_err(op, rc, &err);
            return;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", kind->kind);
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddItemToArray(st->out_restarted, o);
        k8s_send(op, &req, true, on_restarted);
        return;
    }
    st->kind++;
    restart_next_kind(op);
}

static void on_workloads(struct k8s_op *op, const struct k8s_resp *r)
{
    struct rotate *st = op->state;
    if (!k8s_ok(r)) {
        k8s_fail_resp(op, r, "list workloads");
        return;
    }
    cJSON_Delete(st->workloads);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(r->json, "items");
    st->workloads = cJSON_IsArray(items) ? cJSON_Duplicate(items, 1) : cJSON_CreateArray();
    st->widx = 0;
    if (!st->workloads) {
        k8s_fail(op, "out of memory");
        return;
    }
    restart_next(op);
}

static void restart_next_kind(struct k8s_op *op)
{
    struct rotate *st = op->state;
    if (st->kind >= NKINDS || cJSON_GetArraySize(st->used) == 0) {
        k8s_finish_ok(op);
        return;
    }
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = ird_k8s_workload_list(ird_k8s_kind_find(workload_kinds[st->kind]), st->ns, &req, &err);
    k8s_send_built(op, rc, &req, &err, false, on_workloads);
}

/* ---- rotation phase ------------------------------------------------------------------- */

static void rotate_next(struct k8s_op *op);
static void get_secret(struct k8s_op *op);

static void on_put(struct k8s_op *op, const struct k8s_resp *r)
{
    struct rotate *st = op->state;
    if (k8s_ok(r)) {
        st->idx++;
        st->conflicts = 0;
        st->guarded = false;
        rotate_next(op);
    } else if (r->verdict == IRD_K8S_CONFLICT && st->conflicts++ < IRD_K8S_CONFLICT_RETRIES) {
        /* Someone changed it since our read: read again, rotate again. The
         * entry already added to the result is replaced. */
        cJSON_DeleteItemFromArray(st->out_secrets, cJSON_GetArraySize(st->out_secrets) - 1);
        get_secret(op);
    } else {
        k8s_fail_resp(op, r, "update secret");
    }
}

static bool type_allowed(const struct rotate *st, const char *type)
{
    if (!type)
        type = "Opaque";
    if (!st->ntypes)
        return strcmp(type, "Opaque") == 0;
    for (size_t i = 0; i < st->ntypes; i++)
        if (strcmp(st->types[i], type) == 0)
            return true;
    return false;
}

static void on_secret(struct k8s_op *op, const struct k8s_resp *r)
{
    struct rotate *st = op->state;
    const char *name = cJSON_GetArrayItem(st->names, st->idx)->valuestring;
    bool named = st->secret && strcmp(st->secret, name) == 0;
    if (r->code == 404 && !named) {
        skip(st, name, "not found");
        st->idx++;
        rotate_next(op);
        return;
    }
    if (r->code == 404) {
        k8s_fail(op, "secret %s/%s not found", st->ns, name);
        return;
    }
    if (!k8s_ok(r)) {
        k8s_fail_resp(op, r, "get secret");
        return;
    }
    if (!named && !type_allowed(st, ird_k8s_req_str(r->json, "type"))) {
        skip(st, name, "type not in types");
        st->idx++;
        rotate_next(op);
        return;
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(r->json, "metadata");
    const char *by =
        ird_k8s_req_str(cJSON_GetObjectItemCaseSensitive(md, "annotations"), ROTATED_BY_ANNOTATION);
    if (by && strcmp(by, st->incident) == 0 && st->conflicts == 0) {
        /* Rotated for this incident already (a re-issued step): not again. */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddArrayToObject(o, "keys");
        cJSON_AddBoolToObject(o, "already_rotated", true);
        cJSON_AddItemToArray(st->out_secrets, o);
        add_name(st->used, name);
        st->idx++;
        rotate_next(op);
        return;
    }
    if (!st->guarded) {
        if (k8s_guard(op, "Secret", st->ns, name, k8s_labels(r->json)) < 0)
            return;
        st->guarded = true;
    }
    st->opts.now_ms = ird_clock_now_ms();
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    cJSON *rotated = NULL;
    int rc = ird_k8s_secret_rotate(r->json, &st->opts, &req, &rotated, &err);
    if (rc < 0) {
        k8s_fail_err(op, rc, &err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddItemToObject(o, "keys", rotated);
    cJSON_AddItemToArray(st->out_secrets, o);
    add_name(st->used, name);
    k8s_send(op, &req, true, on_put);
}

static void get_secret(struct k8s_op *op)
{
    struct rotate *st = op->state;
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc =
        ird_k8s_secret_get(st->ns, cJSON_GetArrayItem(st->names, st->idx)->valuestring, &req, &err);
    k8s_send_built(op, rc, &req, &err, false, on_secret);
}

static void rotate_next(struct k8s_op *op)
{
    struct rotate *st = op->state;
    if (st->idx < cJSON_GetArraySize(st->names)) {
        get_secret(op);
        return;
    }
    if (st->restart) {
        st->kind = 0;
        restart_next_kind(op);
        return;
    }
    k8s_finish_ok(op);
}

static void on_pod(struct k8s_op *op, const struct k8s_resp *r)
{
    struct rotate *st = op->state;
    if (!k8s_pod_answer_ok(op, r, st->ns, st->pod, "get pod"))
        return;
    cJSON *names = ird_k8s_pod_secret_names(r->json);
    if (!names) {
        k8s_fail(op, "pod %s/%s has no spec", st->ns, st->pod);
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, names)
        add_name(st->names, it->valuestring);
    cJSON_Delete(names);
    rotate_next(op);
}

int ird_k8s_act_rotate_secrets(struct ird_action_call *call)
{
    struct k8s_op *op = k8s_op_with_state(call, sizeof(struct rotate), rotate_free);
    if (!op)
        return -ENOMEM;
    struct rotate *st = op->state;
    st->ns = k8s_namespace(op);
    st->pod = k8s_param_str(op, "pod");
    st->secret = k8s_param_str(op, "secret");
    st->incident = k8s_incident(op);
    st->restart = k8s_param_bool(op, "restart_workloads", false);
    bool mounted = k8s_param_bool(op, "mounted_by_target", false);
    st->names = cJSON_CreateArray();
    st->used = cJSON_CreateArray();
    st->out_secrets = cJSON_AddArrayToObject(op->result, "secrets");
    st->out_restarted = cJSON_AddArrayToObject(op->result, "restarted");
    st->out_skipped = cJSON_AddArrayToObject(op->result, "skipped");
    cJSON_AddStringToObject(op->result, "namespace", st->ns);
    if (!st->names || !st->used || !st->out_secrets || !st->out_restarted || !st->out_skipped ||
        str_list(k8s_param(op, "keys"), &st->keys, &st->nkeys) < 0 ||
        str_list(k8s_param(op, "types"), &st->types, &st->ntypes) < 0) {
        k8s_fail(op, "out of memory");
        return 0;
    }
    int64_t length = k8s_param_int(op, "length", 32);
    if (length < 1 || length > IRD_K8S_ROTATE_MAX_LEN) {
        k8s_fail(op, "parameter length: must be 1-%d, got %lld", IRD_K8S_ROTATE_MAX_LEN,
                 (long long)length);
        return 0;
    }
    if (!st->secret && !mounted) {
        k8s_fail(op,
                 "say which Secrets to rotate: secret = \"<name>\" or mounted_by_target = true");
        return 0;
    }
    if (mounted && !st->pod) {
        k8s_fail(op, "mounted_by_target needs the pod (parameter pod or ${target.pod})");
        return 0;
    }
    st->opts = (struct ird_k8s_rotate_opts){
        .keys = st->keys,
        .n_keys = st->nkeys,
        .length = (size_t)length,
        .alphabet = k8s_param_str(op, "alphabet"),
        .allowed_types = st->types,
        .n_allowed_types = st->ntypes,
        .incident = st->incident,
        .random = random_bytes,
    };
    if (st->secret)
        add_name(st->names, st->secret);
    if (mounted) {
        struct ird_k8s_request req = {0};
        struct ird_err err = {{0}};
        int rc = ird_k8s_pod_get(st->ns, st->pod, &req, &err);
        k8s_send_built(op, rc, &req, &err, false, on_pod);
        return 0;
    }
    rotate_next(op);
    return 0;
}
