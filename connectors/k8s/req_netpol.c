/* The quarantine NetworkPolicy: its deterministic name, its body (deny all,
 * optionally DNS and listed CIDRs out), create/get/replace/delete, and the
 * check that an existing policy is the one ird wanted. Pure. */
#include "k8s/requests.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <string.h>

#define POLICY_PREFIX    "ird-quarantine-"
#define POLICY_SLUG_MAX  40
#define POLICY_HASH_HEX  12
#define MAX_EGRESS_CIDRS 64
#define NETPOL_GROUP     "networking.k8s.io"
#define NETPOL_RESOURCE  "networkpolicies"

int ird_k8s_quarantine_policy_name(const char *incident, char *out, size_t outlen)
{
    if (!incident || !*incident)
        return -EINVAL;
    size_t plen = strlen(POLICY_PREFIX), ilen = strlen(incident);
    if (plen + ilen <= IRD_K8S_NAME_MAX) {
        char name[IRD_K8S_NAME_MAX + 1];
        memcpy(name, POLICY_PREFIX, plen);
        memcpy(name + plen, incident, ilen + 1);
        if (ird_k8s_req_subdomain_valid(name, plen + ilen)) {
            if (plen + ilen + 1 > outlen)
                return -ENOSPC;
            memcpy(out, name, plen + ilen + 1);
            return 0;
        }
    }
    /* Not usable as is: a readable slug plus a hash of the exact id. */
    char slug[POLICY_SLUG_MAX + 1];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)incident; *p && n < POLICY_SLUG_MAX; p++) {
        unsigned char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            slug[n++] = (char)c;
        else if (n > 0 && slug[n - 1] != '-')
            slug[n++] = '-';
    }
    while (n > 0 && slug[n - 1] == '-')
        n--;
    slug[n] = '\0';
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(incident, ilen, md, &mdlen, EVP_sha256(), NULL) || mdlen < POLICY_HASH_HEX / 2)
        return -ENOMEM;
    static const char hex[] = "0123456789abcdef";
    char h[POLICY_HASH_HEX + 1];
    for (size_t i = 0; i < POLICY_HASH_HEX / 2; i++) {
        h[2 * i] = hex[md[i] >> 4];
        h[2 * i + 1] = hex[md[i] & 15];
    }
    h[POLICY_HASH_HEX] = '\0';
    size_t need = plen + n + (n ? 1 : 0) + POLICY_HASH_HEX + 1;
    if (need > outlen)
        return -ENOSPC;
    char *w = out;
    memcpy(w, POLICY_PREFIX, plen);
    w += plen;
    if (n) {
        memcpy(w, slug, n);
        w += n;
        *w++ = '-';
    }
    memcpy(w, h, POLICY_HASH_HEX + 1);
    return 0;
}

bool ird_k8s_cidr_valid(const char *cidr, struct ird_err *err)
{
    if (!cidr || !*cidr) {
        ird_err_set(err, -EINVAL, "egress CIDR is empty");
        return false;
    }
    const char *slash = strchr(cidr, '/');
    if (!slash) {
        ird_err_set(err, -EINVAL, "egress CIDR \"%s\": missing /prefix-length", cidr);
        return false;
    }
    char addr[INET6_ADDRSTRLEN + 1];
    size_t alen = (size_t)(slash - cidr);
    if (alen == 0 || alen >= sizeof(addr)) {
        ird_err_set(err, -EINVAL, "egress CIDR \"%s\": not an IPv4 or IPv6 address", cidr);
        return false;
    }
    memcpy(addr, cidr, alen);
    addr[alen] = '\0';
    unsigned char bin[sizeof(struct in6_addr)];
    int max;
    if (inet_pton(AF_INET, addr, bin) == 1) {
        max = 32;
    } else if (inet_pton(AF_INET6, addr, bin) == 1) {
        max = 128;
    } else {
        ird_err_set(err, -EINVAL, "egress CIDR \"%s\": not an IPv4 or IPv6 address", cidr);
        return false;
    }
    const char *p = slash + 1;
    size_t plen = strlen(p);
    int prefix = 0;
    bool digits_ok = plen >= 1 && plen <= 3 && !(plen > 1 && p[0] == '0');
    for (size_t i = 0; digits_ok && i < plen; i++) {
        if (p[i] < '0' || p[i] > '9')
            digits_ok = false;
        else
            prefix = prefix * 10 + (p[i] - '0');
    }
    if (!digits_ok || prefix > max) {
        ird_err_set(err, -EINVAL, "egress CIDR \"%s\": prefix length must be 0-%d", cidr, max);
        return false;
    }
    return true;
}

static cJSON *match_labels(const char *key, const char *value)
{
    cJSON *sel = cJSON_CreateObject();
    cJSON *ml = cJSON_AddObjectToObject(sel, "matchLabels");
    if (!ml || !cJSON_AddStringToObject(ml, key, value)) {
        cJSON_Delete(sel);
        return NULL;
    }
    return sel;
}

/* {"to":[{namespaceSelector kube-system, podSelector k8s-app=kube-dns}],
 *  "ports":[UDP 53, TCP 53]} as in samples/networkpolicy-deny-all-allow-dns.json */
static cJSON *dns_rule(void)
{
    cJSON *rule = cJSON_CreateObject();
    cJSON *to = cJSON_AddArrayToObject(rule, "to");
    cJSON *peer = cJSON_CreateObject();
    cJSON *ns = match_labels("kubernetes.io/metadata.name", "kube-system");
    cJSON *pod = match_labels("k8s-app", "kube-dns");
    bool ok = to && peer && ns && pod;
    if (ok) {
        cJSON_AddItemToObject(peer, "namespaceSelector", ns);
        cJSON_AddItemToObject(peer, "podSelector", pod);
        cJSON_AddItemToArray(to, peer);
        ns = pod = peer = NULL;
    }
    cJSON *ports = ok ? cJSON_AddArrayToObject(rule, "ports") : NULL;
    static const char *const protocols[] = {"UDP", "TCP"};
    for (size_t i = 0; ports && i < 2; i++) {
        cJSON *port = cJSON_CreateObject();
        if (!port || !cJSON_AddStringToObject(port, "protocol", protocols[i]) ||
            !cJSON_AddNumberToObject(port, "port", 53)) {
            cJSON_Delete(port);
            ports = NULL;
            break;
        }
        cJSON_AddItemToArray(ports, port);
    }
    if (!ports) {
        cJSON_Delete(ns);
        cJSON_Delete(pod);
        cJSON_Delete(peer);
        cJSON_Delete(rule);
        return NULL;
    }
    return rule;
}

static cJSON *cidr_rule(const char *const *cidrs, size_t n)
{
    cJSON *rule = cJSON_CreateObject();
    cJSON *to = cJSON_AddArrayToObject(rule, "to");
    for (size_t i = 0; to && i < n; i++) {
        cJSON *peer = cJSON_CreateObject();
        cJSON *block = cJSON_AddObjectToObject(peer, "ipBlock");
        if (!block || !cJSON_AddStringToObject(block, "cidr", cidrs[i])) {
            cJSON_Delete(peer);
            to = NULL;
            break;
        }
        cJSON_AddItemToArray(to, peer);
    }
    if (!to) {
        cJSON_Delete(rule);
        return NULL;
    }
    return rule;
}

static int check_quarantine(const struct ird_k8s_quarantine *q, struct ird_err *err)
{
    if (!q)
        return ird_err_set(err, -EINVAL, "no quarantine parameters");
    if (!q->ns || !*q->ns)
        return ird_err_set(err, -EINVAL, "namespace is empty");
    if (!q->incident || !*q->incident || !ird_k8s_label_value_valid(q->incident))
        return ird_err_set(err, -EINVAL,
                           "incident id \"%s\" cannot be a label value: at most 63 characters of "
                           "[A-Za-z0-9-_.], starting and ending with a letter or digit",
                           q->incident ? q->incident : "");
    if (q->n_egress_cidrs > MAX_EGRESS_CIDRS)
        return ird_err_set(err, -EINVAL, "%zu egress CIDRs; at most %d", q->n_egress_cidrs,
                           MAX_EGRESS_CIDRS);
    if (q->n_egress_cidrs && !q->egress_cidrs)
        return ird_err_set(err, -EINVAL, "egress CIDR list missing");
    for (size_t i = 0; i < q->n_egress_cidrs; i++) {
        if (!ird_k8s_cidr_valid(q->egress_cidrs[i], err))
            return -EINVAL;
    }
    return 0;
}

cJSON *ird_k8s_quarantine_policy(const struct ird_k8s_quarantine *q, int *ret_rc,
                                 struct ird_err *err)
{
    int rc = check_quarantine(q, err);
    char name[IRD_K8S_NAME_MAX + 1];
    if (!rc)
        rc = ird_k8s_quarantine_policy_name(q->incident, name, sizeof(name));
    if (rc) {
        if (ret_rc)
            *ret_rc = rc;
        return NULL;
    }
    cJSON *np = cJSON_CreateObject();
    cJSON *meta = NULL, *labels = NULL, *spec = NULL, *sel = NULL, *types = NULL;
    bool ok = np && cJSON_AddStringToObject(np, "apiVersion", "networking.k8s.io/v1") &&
              cJSON_AddStringToObject(np, "kind", "NetworkPolicy") &&
              (meta = cJSON_AddObjectToObject(np, "metadata")) &&
              cJSON_AddStringToObject(meta, "name", name) &&
              cJSON_AddStringToObject(meta, "namespace", q->ns) &&
              (labels = cJSON_AddObjectToObject(meta, "labels")) &&
              cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "ird") &&
              cJSON_AddStringToObject(labels, "ird.io/incident", q->incident) &&
              (spec = cJSON_AddObjectToObject(np, "spec")) &&
              (sel = match_labels(IRD_K8S_QUARANTINE_LABEL, q->incident)) &&
              cJSON_AddItemToObject(spec, "podSelector", sel) &&
              (types = cJSON_AddArrayToObject(spec, "policyTypes"));
    if (ok) {
        cJSON *in = cJSON_CreateString("Ingress"), *out = cJSON_CreateString("Egress");
        ok = in && out;
        if (ok) {
            cJSON_AddItemToArray(types, in);
            cJSON_AddItemToArray(types, out);
        } else {
            cJSON_Delete(in);
            cJSON_Delete(out);
        }
    }
    if (ok && (q->allow_dns || q->n_egress_cidrs)) {
        cJSON *egress = cJSON_AddArrayToObject(spec, "egress");
        cJSON *rule;
        ok = egress != NULL;
        if (ok && q->allow_dns) {
            ok = (rule = dns_rule()) != NULL;
            if (ok)
                cJSON_AddItemToArray(egress, rule);
        }
        if (ok && q->n_egress_cidrs) {
            ok = (rule = cidr_rule(q->egress_cidrs, q->n_egress_cidrs)) != NULL;
            if (ok)
                cJSON_AddItemToArray(egress, rule);
        }
    }
    if (!ok) {
        cJSON_Delete(np);
        if (ret_rc)
            *ret_rc = -ENOMEM;
        return NULL;
    }
    if (ret_rc)
        *ret_rc = 0;
    return np;
}

static int netpol_path(struct ird_buf *b, const char *ns, const char *name, struct ird_err *err)
{
    return ird_k8s_req_object_path(b, ird_k8s_kind_find(NETPOL_RESOURCE), ns, name, err);
}

int ird_k8s_netpol_create(const struct ird_k8s_quarantine *q, struct ird_k8s_request *ret,
                          struct ird_err *err)
{
    int rc;
    cJSON *body = ird_k8s_quarantine_policy(q, &rc, err);
    if (!body)
        return rc;
    struct ird_buf b = IRD_BUF_INIT;
    rc = netpol_path(&b, q->ns, NULL, err);
    if (rc) {
        cJSON_Delete(body);
        ird_buf_free(&b);
        return rc;
    }
    return ird_k8s_req_finish(ret, "POST", &b, "application/json", body, "create", NETPOL_GROUP,
                              NETPOL_RESOURCE, err);
}

int ird_k8s_netpol_get(const char *ns, const char *name, struct ird_k8s_request *ret,
                       struct ird_err *err)
{
    return ird_k8s_object_get(ird_k8s_kind_find(NETPOL_RESOURCE), ns, name, ret, err);
}

int ird_k8s_netpol_replace(const struct ird_k8s_quarantine *q, const cJSON *existing,
                           struct ird_k8s_request *ret, struct ird_err *err)
{
    int rc;
    cJSON *body = ird_k8s_quarantine_policy(q, &rc, err);
    if (!body)
        return rc;
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    const char *name = ird_k8s_req_str(meta, "name");
    const cJSON *old_meta = cJSON_GetObjectItemCaseSensitive(existing, "metadata");
    const char *rv = ird_k8s_req_str(old_meta, "resourceVersion");
    const char *old_name = ird_k8s_req_str(old_meta, "name");
    if (!rv || !*rv || !old_name || strcmp(old_name, name)) {
        /* name lives in body: say why before freeing it */
        if (!rv || !*rv)
            ird_err_set(err, -EINVAL, "networkpolicy %s/%s has no metadata.resourceVersion", q->ns,
                        name);
        else
            ird_err_set(err, -EINVAL, "existing object is \"%s\", not networkpolicy %s",
                        old_name ? old_name : "", name);
        cJSON_Delete(body);
        return -EINVAL;
    }
    if (!cJSON_AddStringToObject(meta, "resourceVersion", rv)) {
        cJSON_Delete(body);
        return -ENOMEM;
    }
    struct ird_buf b = IRD_BUF_INIT;
    rc = netpol_path(&b, q->ns, name, err);
    if (rc) {
        cJSON_Delete(body);
        ird_buf_free(&b);
        return rc;
    }
    return ird_k8s_req_finish(ret, "PUT", &b, "application/json", body, "update", NETPOL_GROUP,
                              NETPOL_RESOURCE, err);
}

int ird_k8s_netpol_delete(const char *ns, const char *name, struct ird_k8s_request *ret,
                          struct ird_err *err)
{
    struct ird_buf b = IRD_BUF_INIT;
    int rc = netpol_path(&b, ns, name, err);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    return ird_k8s_req_finish(ret, "DELETE", &b, NULL, NULL, "delete", NETPOL_GROUP,
                              NETPOL_RESOURCE, err);
}

/* Drop rule lists that are present but empty: the API omits them on read. */
static void drop_empty_lists(cJSON *spec)
{
    static const char *const lists[] = {"ingress", "egress"};
    for (size_t i = 0; i < 2; i++) {
        cJSON *l = cJSON_GetObjectItemCaseSensitive(spec, lists[i]);
        if (l && (cJSON_IsNull(l) || (cJSON_IsArray(l) && cJSON_GetArraySize(l) == 0)))
            cJSON_DeleteItemFromObjectCaseSensitive(spec, lists[i]);
    }
}

bool ird_k8s_netpol_is_wanted(const struct ird_k8s_quarantine *q, const cJSON *existing)
{
    cJSON *want = ird_k8s_quarantine_policy(q, NULL, NULL);
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(existing, "spec");
    if (!want || !cJSON_IsObject(spec)) {
        cJSON_Delete(want);
        return false;
    }
    cJSON *have = cJSON_Duplicate(spec, 1);
    bool same = false;
    if (have) {
        drop_empty_lists(have);
        same = cJSON_Compare(cJSON_GetObjectItemCaseSensitive(want, "spec"), have, 1);
    }
    cJSON_Delete(have);
    cJSON_Delete(want);
    return same;
}
