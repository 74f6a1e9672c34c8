/* Secret requests: get, and the rotation transform that turns a GET'd Secret
 * into the PUT that replaces chosen values with fresh random ones. Pure: the
 * caller passes the random source and the time. */
#include "k8s/requests.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TYPE "Opaque"

int ird_k8s_secret_get(const char *ns, const char *name, struct ird_k8s_request *ret,
                       struct ird_err *err)
{
    return ird_k8s_object_get(ird_k8s_kind_find("secrets"), ns, name, ret, err);
}

static int check_alphabet(const char *a, struct ird_err *err)
{
    size_t n = strlen(a);
    bool seen[128] = {false};
    if (n < 2)
        return ird_err_set(err, -EINVAL, "alphabet needs at least 2 characters");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c < 0x21 || c > 0x7e)
            return ird_err_set(err, -EINVAL,
                               "alphabet must be printable ASCII without spaces (byte %zu)", i);
        if (seen[c])
            return ird_err_set(err, -EINVAL, "alphabet repeats '%c', which would bias values",
                               (char)c);
        seen[c] = true;
    }
    return 0;
}

/* Random bytes shared by all the values of one rotation. */
struct pool {
    unsigned char bytes[256];
    size_t pos; /* next unused byte; sizeof(bytes) when empty */
};

/* length characters drawn uniformly from alphabet: a byte b is used only when
 * b < 256 - 256 % n (so b % n has no bias), otherwise drawn again. A source
 * that keeps producing rejected bytes ends in -EIO instead of a loop. */
static int random_value(const struct ird_k8s_rotate_opts *o, struct pool *p, const char *alphabet,
                        char *out, struct ird_err *err)
{
    size_t n = strlen(alphabet);
    unsigned limit = 256u - 256u % (unsigned)n;
    size_t got = 0, budget = o->length * 16 + 1024; /* bytes we may draw for this value */
    while (got < o->length) {
        if (p->pos == sizeof(p->bytes)) {
            if (budget < sizeof(p->bytes))
                return ird_err_set(err, -EIO, "random source keeps returning unusable bytes");
            budget -= sizeof(p->bytes);
            int rc = o->random(o->random_ctx, p->bytes, sizeof(p->bytes));
            if (rc)
                return ird_err_set(err, rc, "random source failed: %s", ird_strerror(rc));
            p->pos = 0;
        }
        unsigned char b = p->bytes[p->pos++];
        if (b < limit)
            out[got++] = alphabet[b % n];
    }
    return 0;
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] && !strcmp(list[i], s))
            return true;
    }
    return false;
}

static int check_secret(const cJSON *secret, const struct ird_k8s_rotate_opts *o, const char *ns,
                        const char *name, const cJSON *data, struct ird_err *err)
{
    const char *type = ird_k8s_req_str(secret, "type");
    if (!type || !*type)
        type = DEFAULT_TYPE; /* the API's default */
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(secret, "immutable")))
        return ird_err_set(err, -EINVAL, "secret %s/%s is immutable; ird cannot rotate it", ns,
                           name);
    static const char *const default_types[] = {DEFAULT_TYPE};
    const char *const *allowed = o->allowed_types ? o->allowed_types : default_types;
    size_t n_allowed = o->allowed_types ? o->n_allowed_types : 1;
    if (!in_list(allowed, n_allowed, type))
        return ird_err_set(err, -EINVAL,
                           "secret %s/%s has type %s, which ird is not allowed to rotate", ns, name,
                           type);
    if (o->keys) {
        if (o->n_keys == 0)
            return ird_err_set(err, -EINVAL, "no keys listed to rotate in secret %s/%s", ns, name);
        for (size_t i = 0; i < o->n_keys; i++) {
            if (!o->keys[i] || !cJSON_GetObjectItemCaseSensitive(data, o->keys[i]))
                return ird_err_set(err, -EINVAL, "secret %s/%s has no key \"%s\"", ns, name,
                                   o->keys[i] ? o->keys[i] : "");
        }
    } else if (!cJSON_IsObject(data) || !data->child) {
        return ird_err_set(err, -EINVAL, "secret %s/%s has no data keys to rotate", ns, name);
    }
    return 0;
}

/* Replace data[key] in body with a new random value; wipes the plain value. */
static int rotate_key(cJSON *data, const char *key, const struct ird_k8s_rotate_opts *o,
                      struct pool *p, const char *alphabet, struct ird_err *err)
{
    size_t b64len = 4 * ((o->length + 2) / 3) + 1;
    char *plain = malloc(o->length);
    unsigned char *b64 = malloc(b64len);
    int rc = plain && b64 ? random_value(o, p, alphabet, plain, err) : -ENOMEM;
    if (!rc) {
        EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)o->length);
        cJSON *v = cJSON_CreateString((const char *)b64);
        if (!v || !cJSON_ReplaceItemInObjectCaseSensitive(data, key, v)) {
            cJSON_Delete(v);
            rc = -ENOMEM;
        }
    }
    if (plain)
        explicit_bzero(plain, o->length);
    if (b64)
        explicit_bzero(b64, b64len);
    free(plain);
    free(b64);
    return rc;
}

static int set_annotation(cJSON *meta, const char *key, const char *value)
{
    cJSON *ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
    if (!cJSON_IsObject(ann)) {
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "annotations");
        ann = cJSON_AddObjectToObject(meta, "annotations");
        if (!ann)
            return -ENOMEM;
    }
    cJSON *v = cJSON_CreateString(value);
    if (!v)
        return -ENOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(ann, key);
    cJSON_AddItemToObject(ann, key, v);
    return 0;
}

int ird_k8s_secret_rotate(const cJSON *secret, const struct ird_k8s_rotate_opts *o,
                          struct ird_k8s_request *ret, cJSON **ret_rotated, struct ird_err *err)
{
    if (!o || !o->random)
        return ird_err_set(err, -EINVAL, "no random source");
    if (o->length < 1 || o->length > IRD_K8S_ROTATE_MAX_LEN)
        return ird_err_set(err, -EINVAL, "length must be 1-%d, got %zu", IRD_K8S_ROTATE_MAX_LEN,
                           o->length);
    const char *alphabet = o->alphabet ? o->alphabet : IRD_K8S_ROTATE_ALPHABET;
    int rc = check_alphabet(alphabet, err);
    if (rc)
        return rc;
    if (!o->incident || !*o->incident)
        return ird_err_set(err, -EINVAL, "no incident id for ird.io/rotated-by");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(secret, "metadata");
    const char *ns = ird_k8s_req_str(meta, "namespace");
    const char *name = ird_k8s_req_str(meta, "name");
    const char *kind = ird_k8s_req_str(secret, "kind");
    if (!ns || !name || (kind && strcmp(kind, "Secret")))
        return ird_err_set(err, -EINVAL, "not a Secret with metadata.namespace and name");
    const char *rv = ird_k8s_req_str(meta, "resourceVersion");
    if (!rv || !*rv)
        return ird_err_set(err, -EINVAL,
                           "secret %s/%s has no metadata.resourceVersion; rotate what GET returned",
                           ns, name);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(secret, "data");
    rc = check_secret(secret, o, ns, name, data, err);
    if (rc)
        return rc;

    struct pool pool = {.pos = sizeof(pool.bytes)};
    struct ird_buf b = IRD_BUF_INIT;
    rc = ird_k8s_req_object_path(&b, ird_k8s_kind_find("secrets"), ns, name, err);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    cJSON *body = cJSON_Duplicate(secret, 1);
    cJSON *rotated = cJSON_CreateArray();
    if (!body || !rotated) {
        rc = -ENOMEM;
        goto fail;
    }
    cJSON *bmeta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(bmeta, "managedFields");
    /* kubectl apply keeps a copy of the whole Secret, values included, in this
     * annotation: writing it back would keep the old values in the object. */
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(bmeta, "annotations"),
                                            "kubectl.kubernetes.io/last-applied-configuration");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "stringData");
    cJSON *bdata = cJSON_GetObjectItemCaseSensitive(body, "data");
    size_t n = 0;
    const cJSON *all = data ? data->child : NULL;
    for (;;) {
        const char *key;
        if (o->keys) {
            if (n == o->n_keys)
                break;
            key = o->keys[n++];
        } else {
            if (!all)
                break;
            key = all->string;
            all = all->next;
        }
        bool done = false;
        const cJSON *it;
        cJSON_ArrayForEach(it, rotated) {
            if (!strcmp(it->valuestring, key))
                done = true;
        }
        if (done)
            continue;
        rc = rotate_key(bdata, key, o, &pool, alphabet, err);
        if (rc)
            goto fail;
        cJSON *k = cJSON_CreateString(key);
        if (!k) {
            rc = -ENOMEM;
            goto fail;
        }
        cJSON_AddItemToArray(rotated, k);
    }
    explicit_bzero(&pool, sizeof(pool));
    char when[32];
    ird_k8s_req_time_seconds(o->now_ms, when, sizeof(when));
    rc = set_annotation(bmeta, "ird.io/rotated-at", when);
    if (!rc)
        rc = set_annotation(bmeta, "ird.io/rotated-by", o->incident);
    if (rc)
        goto fail;
    rc = ird_k8s_req_finish(ret, "PUT", &b, "application/json", body, "update", "", "secrets", err);
    body = NULL;
    if (rc)
        goto fail;
    if (ret_rotated)
        *ret_rotated = rotated;
    else
        cJSON_Delete(rotated);
    return 0;
fail:
    explicit_bzero(&pool, sizeof(pool));
    ird_buf_free(&b);
    cJSON_Delete(body);
    cJSON_Delete(rotated);
    return rc;
}
