/* The RBAC shipped in etc/kubernetes/ against the request builders' table
 * ird_k8s_resources[]: every (verb, apiGroup, resource) a builder can produce is
 * granted to ird's ServiceAccount, nothing else is, and the Deployment runs as
 * that ServiceAccount with its token where the in-cluster loader reads it. */
#include "check.h"
#include "core/buf.h"
#include "k8s/requests.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define IRD_NS       "ird-system"
#define IRD_SA       "ird"
#define SA_DIR       "/var/run/secrets/kubernetes.io/serviceaccount"
#define YAML_DEPTH   64
#define RBAC_GROUP   "rbac.authorization.k8s.io"
#define FIELD_MAX    256
#define MANIFEST_MAX (1024 * 1024)

/* ---- YAML manifests as cJSON ---------------------------------------------------------------- */

/* Every scalar becomes a string ("true", "0444"): the checks below compare text. */
static cJSON *node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
    if (!node || depth > YAML_DEPTH)
        return NULL;
    if (node->type == YAML_SCALAR_NODE)
        return cJSON_CreateString((const char *)node->data.scalar.value);
    if (node->type == YAML_SEQUENCE_NODE) {
        cJSON *arr = cJSON_CreateArray();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             arr && it < node->data.sequence.items.top; it++) {
            cJSON *v = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);
            if (!v) {
                cJSON_Delete(arr);
                return NULL;
            }
            cJSON_AddItemToArray(arr, v);
        }
        return arr;
    }
    if (node->type == YAML_MAPPING_NODE) {
        cJSON *obj = cJSON_CreateObject();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             obj && p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            cJSON *v = node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
            if (!k || k->type != YAML_SCALAR_NODE || !v) {
                cJSON_Delete(v);
                cJSON_Delete(obj);
                return NULL;
            }
            cJSON_AddItemToObject(obj, (const char *)k->data.scalar.value, v);
        }
        return obj;
    }
    return NULL;
}

/* Append every object document of text to docs as {"file": name, "obj": {...}}.
 * 0, or -1 with the reason on stderr. */
static int manifests_add_text(cJSON *docs, const char *name, const char *text, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return -1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            fprintf(stderr, "%s:%zu: %s\n", name, parser.problem_mark.line + 1,
                    parser.problem ? parser.problem : "YAML error");
            rc = -1;
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            yaml_document_delete(&doc);
            break;
        }
        cJSON *obj = node_to_json(&doc, root, 0);
        yaml_document_delete(&doc);
        if (!obj) {
            fprintf(stderr, "%s: a document nests too deep or has a non-scalar key\n", name);
            rc = -1;
            break;
        }
        if (!cJSON_IsObject(obj)) {
            cJSON_Delete(obj);
            continue;
        }
        cJSON *wrap = cJSON_CreateObject();
        if (!wrap) {
            cJSON_Delete(obj);
            rc = -1;
            break;
        }
        cJSON_AddStringToObject(wrap, "file", name);
        cJSON_AddItemToObject(wrap, "obj", obj);
        cJSON_AddItemToArray(docs, wrap);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static int yaml_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && ((n > 5 && !strcmp(d->d_name + n - 5, ".yaml")) ||
                                   (n > 4 && !strcmp(d->d_name + n - 4, ".yml")));
}

/* Every *.yaml / *.yml file of dir, in the order kubectl apply -f reads them.
 * Returns the number of files read, or -1. */
static int manifests_add_dir(cJSON *docs, const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, yaml_name, alphasort);
    if (n < 0) {
        fprintf(stderr, "cannot list %s\n", dir);
        return -1;
    }
    int rc = n;
    for (int i = 0; i < n; i++) {
        char path[1536]; /* dir (< 1024) + "/" + d_name (< 256) */
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        FILE *f = fopen(path, "rb");
        struct ird_buf b = IRD_BUF_INIT;
        char chunk[4096];
        size_t got;
        while (f && b.len <= MANIFEST_MAX && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
            ird_buf_append(&b, chunk, got);
        if (!f || b.len > MANIFEST_MAX ||
            manifests_add_text(docs, names[i]->d_name, b.data ? b.data : "", b.len) < 0) {
            fprintf(stderr, "cannot read manifest %s\n", path);
            rc = -1;
        }
        if (f)
            fclose(f);
        ird_buf_free(&b);
        free(names[i]);
    }
    free(names);
    return rc;
}

static const char *str_at(const cJSON *obj, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool str_is(const char *s, const char *want)
{
    return s && !strcmp(s, want);
}

static const cJSON *doc_obj(const cJSON *wrap)
{
    return cJSON_GetObjectItemCaseSensitive(wrap, "obj");
}

static const char *doc_file(const cJSON *wrap)
{
    return str_at(wrap, "file", NULL);
}

/* ---- the comparison -------------------------------------------------------------------------- */

/* Rows that live in ird's own namespace and so belong in a Role there, not in
 * the ClusterRole: leader election's Lease, once a builder produces it. */
static const struct {
    const char *group, *resource;
} ns_scoped_rows[] = {
    {"coordination.k8s.io", "leases"},
};

static bool row_in_ird_namespace(const char *group, const char *resource)
{
    for (size_t i = 0; i < sizeof(ns_scoped_rows) / sizeof(ns_scoped_rows[0]); i++) {
        if (!strcmp(group, ns_scoped_rows[i].group) &&
            !strcmp(resource, ns_scoped_rows[i].resource))
            return true;
    }
    return false;
}

/* One (verb, group, resource) a bound Role or ClusterRole grants. */
struct grant {
    char verb[FIELD_MAX], group[FIELD_MAX], resource[FIELD_MAX];
    bool in_namespace; /* from a Role in ird's namespace, not a ClusterRole */
    char where[FIELD_MAX];
};

struct rbac_report {
    struct grant *grants;
    size_t n_grants, cap_grants;
    int missing, extra, problems;
    struct ird_buf text; /* one line per finding */
};

static void report_line(struct rbac_report *rep, int *counter, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report_line(struct rbac_report *rep, int *counter, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ird_buf_vprintf(&rep->text, fmt, ap);
    va_end(ap);
    ird_buf_puts(&rep->text, "\n");
    (*counter)++;
}

static void report_free(struct rbac_report *rep)
{
    free(rep->grants);
    ird_buf_free(&rep->text);
    memset(rep, 0, sizeof(*rep));
}

static bool report_says(const struct rbac_report *rep, const char *needle)
{
    return rep->text.data && strstr(rep->text.data, needle) != NULL;
}

static void grant_add(struct rbac_report *rep, const char *verb, const char *group,
                      const char *resource, bool in_namespace, const char *where)
{
    if (rep->n_grants == rep->cap_grants) {
        size_t cap = rep->cap_grants ? 2 * rep->cap_grants : 64;
        struct grant *g = realloc(rep->grants, cap * sizeof(*g));
        if (!g) {
            report_line(rep, &rep->problems, "out of memory");
            return;
        }
        rep->grants = g;
        rep->cap_grants = cap;
    }
    struct grant *g = &rep->grants[rep->n_grants++];
    snprintf(g->verb, sizeof(g->verb), "%s", verb);
    snprintf(g->group, sizeof(g->group), "%s", group);
    snprintf(g->resource, sizeof(g->resource), "%s", resource);
    snprintf(g->where, sizeof(g->where), "%s", where);
    g->in_namespace = in_namespace;
}

static bool subject_is_ird(const cJSON *subjects)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, subjects) {
        if (str_is(str_at(s, "kind", NULL), "ServiceAccount") &&
            str_is(str_at(s, "name", NULL), IRD_SA) && str_is(str_at(s, "namespace", NULL), IRD_NS))
            return true;
    }
    return false;
}

/* Whether a binding in docs gives role (kind ClusterRole or Role, in ns for a
 * Role) to ird's ServiceAccount. */
static bool role_bound(const cJSON *docs, const char *kind, const char *name, const char *ns)
{
    const char *binding = !strcmp(kind, "Role") ? "RoleBinding" : "ClusterRoleBinding";
    const cJSON *w;
    cJSON_ArrayForEach(w, docs) {
        const cJSON *o = doc_obj(w);
        if (!str_is(str_at(o, "kind", NULL), binding))
            continue;
        if (ns && !str_is(str_at(o, "metadata", "namespace"), ns))
            continue;
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(o, "roleRef");
        if (str_is(str_at(ref, "kind", NULL), kind) && str_is(str_at(ref, "name", NULL), name) &&
            str_is(str_at(ref, "apiGroup", NULL), RBAC_GROUP) &&
            subject_is_ird(cJSON_GetObjectItemCaseSensitive(o, "subjects")))
            return true;
    }
    return false;
}

/* Whether docs define the role a binding refers to (a Role in the binding's namespace). */
static bool role_defined(const cJSON *docs, const char *kind, const char *name, const char *ns)
{
    const cJSON *w;
    cJSON_ArrayForEach(w, docs) {
        const cJSON *o = doc_obj(w);
        if (str_is(str_at(o, "kind", NULL), kind) && str_is(str_at(o, "metadata", "name"), name) &&
            (strcmp(kind, "Role") || str_is(str_at(o, "metadata", "namespace"), ns)))
            return true;
    }
    return false;
}

/* Collect the grants of one role's rules; anything a plain (verb, group,
 * resource) row cannot express is a problem. */
static void collect_rules(struct rbac_report *rep, const cJSON *role, const char *file,
                          const char *kind, const char *name, bool in_namespace)
{
    if (cJSON_GetObjectItemCaseSensitive(role, "aggregationRule"))
        report_line(rep, &rep->extra, "extra grant: %s %s (%s) aggregates other roles", kind, name,
                    file);
    int idx = 0;
    const cJSON *rule;
    cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(role, "rules")) {
        idx++;
        char where[FIELD_MAX];
        snprintf(where, sizeof(where), "%s, %s %s, rule %d", file, kind, name, idx);
        if (cJSON_GetObjectItemCaseSensitive(rule, "nonResourceURLs"))
            report_line(rep, &rep->extra, "extra grant: nonResourceURLs (%s)", where);
        if (cJSON_GetObjectItemCaseSensitive(rule, "resourceNames"))
            report_line(rep, &rep->problems,
                        "problem: resourceNames narrows a rule the builders need for any name (%s)",
                        where);
        const cJSON *groups = cJSON_GetObjectItemCaseSensitive(rule, "apiGroups");
        const cJSON *resources = cJSON_GetObjectItemCaseSensitive(rule, "resources");
        const cJSON *verbs = cJSON_GetObjectItemCaseSensitive(rule, "verbs");
        const cJSON *g, *r, *v;
        cJSON_ArrayForEach(g, groups) {
            cJSON_ArrayForEach(r, resources) {
                cJSON_ArrayForEach(v, verbs) {
                    if (!cJSON_IsString(g) || !cJSON_IsString(r) || !cJSON_IsString(v)) {
                        report_line(rep, &rep->problems, "problem: a non-string entry (%s)", where);
                        continue;
                    }
                    grant_add(rep, v->valuestring, g->valuestring, r->valuestring, in_namespace,
                              where);
                }
            }
        }
    }
}

static bool table_has(const struct ird_k8s_resource *table, size_t n, const struct grant *g)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(table[i].verb, g->verb) && !strcmp(table[i].group, g->group) &&
            !strcmp(table[i].resource, g->resource) &&
            row_in_ird_namespace(g->group, g->resource) == g->in_namespace)
            return true;
    }
    return false;
}

static bool granted(const struct rbac_report *rep, const struct ird_k8s_resource *row)
{
    bool in_ns = row_in_ird_namespace(row->group, row->resource);
    for (size_t i = 0; i < rep->n_grants; i++) {
        const struct grant *g = &rep->grants[i];
        if (!strcmp(g->verb, row->verb) && !strcmp(g->group, row->group) &&
            !strcmp(g->resource, row->resource) && g->in_namespace == in_ns)
            return true;
    }
    return false;
}

/* Compare what docs grant ird's ServiceAccount with table, both ways. Grants
 * count only from a ClusterRole bound by a ClusterRoleBinding, or from a Role
 * in ird's namespace bound there; wildcards are compared as text, so "*" is
 * always an extra grant. Findings go to rep (caller frees with report_free). */
static void rbac_compare(const cJSON *docs, const struct ird_k8s_resource *table, size_t n,
                         struct rbac_report *rep)
{
    const cJSON *w;
    cJSON_ArrayForEach(w, docs) {
        const cJSON *o = doc_obj(w);
        const char *kind = str_at(o, "kind", NULL);
        const char *name = str_at(o, "metadata", "name");
        const char *ns = str_at(o, "metadata", "namespace");
        const char *file = doc_file(w);
        if (str_is(kind, "ClusterRole") || str_is(kind, "Role")) {
            bool is_role = !strcmp(kind, "Role");
            if (!name) {
                report_line(rep, &rep->problems, "problem: a %s without a name (%s)", kind, file);
                continue;
            }
            if (is_role && !str_is(ns, IRD_NS)) {
                report_line(rep, &rep->extra, "extra grant: Role %s in namespace %s (%s)", name,
                            ns ? ns : "(none)", file);
                continue;
            }
            if (!role_bound(docs, kind, name, is_role ? ns : NULL)) {
                report_line(rep, &rep->problems,
                            "problem: %s %s (%s) is not bound to ServiceAccount %s/%s", kind, name,
                            file, IRD_NS, IRD_SA);
                continue;
            }
            collect_rules(rep, o, file, kind, name, is_role);
        } else if (str_is(kind, "ClusterRoleBinding") || str_is(kind, "RoleBinding")) {
            /* ird's ServiceAccount bound to a role not shipped here (cluster-admin...)
             * gets grants this file cannot see. */
            const cJSON *ref = cJSON_GetObjectItemCaseSensitive(o, "roleRef");
            const char *rkind = str_at(ref, "kind", NULL), *rname = str_at(ref, "name", NULL);
            if (subject_is_ird(cJSON_GetObjectItemCaseSensitive(o, "subjects")) &&
                (!rkind || !rname || !role_defined(docs, rkind, rname, ns)))
                report_line(rep, &rep->extra,
                            "extra grant: %s %s (%s) binds ServiceAccount %s/%s to %s %s, which "
                            "is not shipped here",
                            kind, name ? name : "(unnamed)", file, IRD_NS, IRD_SA,
                            rkind ? rkind : "?", rname ? rname : "?");
        }
    }
    for (size_t i = 0; i < rep->n_grants; i++) {
        const struct grant *g = &rep->grants[i];
        if (!table_has(table, n, g))
            report_line(rep, &rep->extra,
                        "extra grant: verb \"%s\" on \"%s\" in API group \"%s\" (%s): no request "
                        "builder needs it",
                        g->verb, g->resource, g->group, g->where);
    }
    for (size_t i = 0; i < n; i++) {
        if (!granted(rep, &table[i]))
            report_line(rep, &rep->missing,
                        "missing grant: verb \"%s\" on \"%s\" in API group \"%s\": add it to %s",
                        table[i].verb, table[i].resource, table[i].group,
                        row_in_ird_namespace(table[i].group, table[i].resource)
                            ? "a Role in " IRD_NS " bound to ServiceAccount " IRD_SA
                            : "the ClusterRole bound to ServiceAccount " IRD_NS "/" IRD_SA);
    }
}

/* ---- the Deployment ----------------------------------------------------------------------------
 */

static const cJSON *find_doc(const cJSON *docs, const char *kind, const char *name, const char *ns)
{
    const cJSON *w;
    cJSON_ArrayForEach(w, docs) {
        const cJSON *o = doc_obj(w);
        if (str_is(str_at(o, "kind", NULL), kind) && str_is(str_at(o, "metadata", "name"), name) &&
            (!ns || str_is(str_at(o, "metadata", "namespace"), ns)))
            return o;
    }
    return NULL;
}

static const cJSON *find_named(const cJSON *arr, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (str_is(str_at(it, "name", NULL), name))
            return it;
    }
    return NULL;
}

/* Whether the pod spec gives container c the service-account token at SA_DIR:
 * automounted (not disabled on pod or ServiceAccount), or a projected volume with
 * a serviceAccountToken source at path "token" mounted there. */
static bool token_mounted(const cJSON *spec, const cJSON *c, const cJSON *sa)
{
    const char *pod_auto = str_at(spec, "automountServiceAccountToken", NULL);
    const char *sa_auto = str_at(sa, "automountServiceAccountToken", NULL);
    if (pod_auto ? strcmp(pod_auto, "false") != 0 : !str_is(sa_auto, "false"))
        return true;
    const cJSON *m = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(c, "volumeMounts")) {
        if (str_is(str_at(it, "mountPath", NULL), SA_DIR))
            m = it;
    }
    const cJSON *vol =
        m ? find_named(cJSON_GetObjectItemCaseSensitive(spec, "volumes"), str_at(m, "name", NULL))
          : NULL;
    const cJSON *sources = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(vol, "projected"), "sources");
    cJSON_ArrayForEach(it, sources) {
        if (str_is(str_at(it, "serviceAccountToken", "path"), "token"))
            return true;
    }
    return false;
}

static void test_deployment(const cJSON *docs)
{
    CHECK(find_doc(docs, "Namespace", IRD_NS, NULL) != NULL);
    const cJSON *sa = find_doc(docs, "ServiceAccount", IRD_SA, IRD_NS);
    CHECK(sa != NULL);
    const cJSON *d = find_doc(docs, "Deployment", "ird", IRD_NS);
    CHECK(d != NULL);
    if (!d)
        return;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "spec"), "template"),
        "spec");
    CHECK_STR(str_at(spec, "serviceAccountName", NULL), IRD_SA);
    /* One daemon per state volume. */
    CHECK_STR(str_at(cJSON_GetObjectItemCaseSensitive(d, "spec"), "replicas", NULL), "1");
    const cJSON *c = find_named(cJSON_GetObjectItemCaseSensitive(spec, "containers"), "ird");
    CHECK(c != NULL);
    CHECK(c && token_mounted(spec, c, sa));
    /* The config the container is told to read comes from the ConfigMap, and
     * that config selects in-cluster credentials. */
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "args");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(args, 0)), "serve");
    const cJSON *cm = find_doc(docs, "ConfigMap", "ird-config", IRD_NS);
    const char *conf = str_at(cm, "data", "ird.conf");
    CHECK(conf != NULL);
    CHECK(conf && strstr(conf, "in_cluster = true;") != NULL);
    CHECK(conf && strstr(conf, "dry_run = true;") != NULL);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static cJSON *docs_from(const char *yaml)
{
    cJSON *docs = cJSON_CreateArray();
    CHECK(docs && manifests_add_text(docs, "inline.yaml", yaml, strlen(yaml)) == 0);
    return docs;
}

static void show(const char *what, const struct rbac_report *rep)
{
    if (rep->text.len)
        fprintf(stderr, "%s:\n%s", what, rep->text.data);
}

/* The shipped manifests against the real table. */
static void test_shipped(const cJSON *docs)
{
    struct rbac_report rep = {0};
    rbac_compare(docs, ird_k8s_resources, ird_k8s_resources_count, &rep);
    CHECK_INT(rep.missing, 0);
    CHECK_INT(rep.extra, 0);
    CHECK_INT(rep.problems, 0);
    CHECK(rep.n_grants >= ird_k8s_resources_count);
    if (rep.missing || rep.extra || rep.problems)
        show("etc/kubernetes/ against ird_k8s_resources[]", &rep);
    report_free(&rep);
}

/* A builder row added without updating the YAML fails, naming the row; a row
 * removed from the table leaves an extra grant, named too. */
static void test_table_drift(const cJSON *docs)
{
    size_t n = ird_k8s_resources_count;
    struct ird_k8s_resource *t = calloc(n + 1, sizeof(*t));
    CHECK(t != NULL);
    if (!t)
        return;
    memcpy(t, ird_k8s_resources, n * sizeof(*t));
    t[n] = (struct ird_k8s_resource){"deletecollection", "", "configmaps"};
    struct rbac_report rep = {0};
    rbac_compare(docs, t, n + 1, &rep);
    CHECK_INT(rep.missing, 1);
    CHECK_INT(rep.extra, 0);
    CHECK(report_says(&rep, "missing grant: verb \"deletecollection\" on \"configmaps\" in API "
                            "group \"\""));
    report_free(&rep);

    /* Drop the last row: the YAML now grants one thing no builder needs. */
    const struct ird_k8s_resource *last = &ird_k8s_resources[n - 1];
    rbac_compare(docs, t, n - 1, &rep);
    CHECK_INT(rep.missing, 0);
    CHECK_INT(rep.extra, 1);
    char want[512];
    snprintf(want, sizeof(want), "extra grant: verb \"%s\" on \"%s\" in API group \"%s\"",
             last->verb, last->resource, last->group);
    CHECK(report_says(&rep, want));
    report_free(&rep);
    free(t);
}

#define BIND_CR                                                                                    \
    "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: "   \
    "ird}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ird}\n"         \
    "subjects: [{kind: ServiceAccount, name: ird, namespace: ird-system}]\n"

static const struct ird_k8s_resource small_table[] = {
    {"get", "", "pods"},
    {"patch", "", "pods"},
    {"create", "networking.k8s.io", "networkpolicies"},
};
#define SMALL_N (sizeof(small_table) / sizeof(small_table[0]))

/* Both directions on a hand-made role, each finding named. */
static void test_missing_and_extra(void)
{
    cJSON *docs =
        docs_from("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                  "metadata: {name: ird}\nrules:\n"
                  "  - apiGroups: ['']\n    resources: [pods]\n    verbs: [get]\n"
                  "  - apiGroups: [networking.k8s.io]\n"
                  "    resources: [networkpolicies]\n    verbs: [create, delete]\n" BIND_CR);
    struct rbac_report rep = {0};
    rbac_compare(docs, small_table, SMALL_N, &rep);
    CHECK_INT(rep.missing, 1);
    CHECK_INT(rep.extra, 1);
    CHECK_INT(rep.problems, 0);
    CHECK(report_says(&rep, "missing grant: verb \"patch\" on \"pods\" in API group \"\""));
    CHECK(report_says(&rep, "extra grant: verb \"delete\" on \"networkpolicies\" in API group "
                            "\"networking.k8s.io\" (inline.yaml, ClusterRole ird, rule 2)"));
    report_free(&rep);
    cJSON_Delete(docs);

    /* The same rules, complete: nothing to say. */
    docs = docs_from("kind: ClusterRole\nmetadata: {name: ird}\nrules:\n"
                     "  - {apiGroups: [''], resources: [pods], verbs: [get, patch]}\n"
                     "  - {apiGroups: [networking.k8s.io], resources: [networkpolicies], "
                     "verbs: [create]}\n" BIND_CR);
    rbac_compare(docs, small_table, SMALL_N, &rep);
    CHECK_INT(rep.missing + rep.extra + rep.problems, 0);
    show("complete role", &rep);
    report_free(&rep);
    cJSON_Delete(docs);
}

/* Wildcards and non-resource URLs are never least privilege. */
static void test_wildcards(void)
{
    cJSON *docs = docs_from("kind: ClusterRole\nmetadata: {name: ird}\nrules:\n"
                            "  - {apiGroups: [''], resources: [pods], verbs: ['*']}\n"
                            "  - {apiGroups: [networking.k8s.io], resources: ['*'], "
                            "verbs: [create]}\n"
                            "  - {nonResourceURLs: [/metrics], verbs: [get]}\n" BIND_CR);
    struct rbac_report rep = {0};
    rbac_compare(docs, small_table, SMALL_N, &rep);
    CHECK_INT(rep.missing, 3);
    CHECK_INT(rep.extra, 3);
    CHECK(report_says(&rep, "extra grant: verb \"*\" on \"pods\""));
    CHECK(report_says(&rep, "extra grant: verb \"create\" on \"*\""));
    CHECK(report_says(&rep, "extra grant: nonResourceURLs (inline.yaml, ClusterRole ird, rule 3)"));
    report_free(&rep);
    cJSON_Delete(docs);
}

/* Grants count only when bound to ird's ServiceAccount, and binding it to a
 * role not shipped here (cluster-admin) is an extra grant. */
static void test_bindings(void)
{
    cJSON *docs = docs_from(
        "kind: ClusterRole\nmetadata: {name: ird}\nrules:\n"
        "  - {apiGroups: [''], resources: [pods], verbs: [get, patch]}\n"
        "  - {apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [create]}\n"
        "---\nkind: ClusterRoleBinding\nmetadata: {name: ird}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ird}\n"
        "subjects: [{kind: ServiceAccount, name: ird, namespace: default}]\n"
        "---\nkind: ClusterRoleBinding\nmetadata: {name: ird-admin}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n"
        "subjects: [{kind: ServiceAccount, name: ird, namespace: ird-system}]\n");
    struct rbac_report rep = {0};
    rbac_compare(docs, small_table, SMALL_N, &rep);
    CHECK_INT(rep.missing, 3);
    CHECK_INT(rep.extra, 1);
    CHECK_INT(rep.problems, 1);
    CHECK(report_says(&rep, "ClusterRole ird (inline.yaml) is not bound to ServiceAccount "
                            "ird-system/ird"));
    CHECK(report_says(&rep, "to ClusterRole cluster-admin, which is not shipped here"));
    report_free(&rep);
    cJSON_Delete(docs);
}

/* A Lease row (leader election) belongs in a Role in ird-system: granting it
 * cluster-wide is both missing and extra; the bound Role is exactly right. */
static void test_lease_role(void)
{
    static const struct ird_k8s_resource t[] = {
        {"get", "", "pods"},
        {"get", "coordination.k8s.io", "leases"},
        {"update", "coordination.k8s.io", "leases"},
    };
    cJSON *docs = docs_from("kind: ClusterRole\nmetadata: {name: ird}\nrules:\n"
                            "  - {apiGroups: [''], resources: [pods], verbs: [get]}\n"
                            "  - {apiGroups: [coordination.k8s.io], resources: [leases], "
                            "verbs: [get, update]}\n" BIND_CR);
    struct rbac_report rep = {0};
    rbac_compare(docs, t, 3, &rep);
    CHECK_INT(rep.missing, 2);
    CHECK_INT(rep.extra, 2);
    CHECK(report_says(&rep, "missing grant: verb \"update\" on \"leases\" in API group "
                            "\"coordination.k8s.io\": add it to a Role in ird-system"));
    report_free(&rep);
    cJSON_Delete(docs);

    docs = docs_from(
        "kind: ClusterRole\nmetadata: {name: ird}\nrules:\n"
        "  - {apiGroups: [''], resources: [pods], verbs: [get]}\n" BIND_CR
        "---\nkind: Role\nmetadata: {name: ird-leader, namespace: ird-system}\nrules:\n"
        "  - {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, update]}\n"
        "---\nkind: RoleBinding\nmetadata: {name: ird-leader, namespace: ird-system}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ird-leader}\n"
        "subjects: [{kind: ServiceAccount, name: ird, namespace: ird-system}]\n");
    rbac_compare(docs, t, 3, &rep);
    CHECK_INT(rep.missing + rep.extra + rep.problems, 0);
    show("lease role", &rep);
    report_free(&rep);

    /* The same Role without its leases in the table: extra. */
    rbac_compare(docs, t, 1, &rep);
    CHECK_INT(rep.missing, 0);
    CHECK_INT(rep.extra, 2);
    CHECK(report_says(&rep, "extra grant: verb \"get\" on \"leases\" in API group "
                            "\"coordination.k8s.io\" (inline.yaml, Role ird-leader, rule 1)"));
    report_free(&rep);
    cJSON_Delete(docs);
}

int main(void)
{
    const char *fixtures = getenv("IRD_FIXTURES");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/../../etc/kubernetes", fixtures ? fixtures : "tests/fixtures");
    cJSON *docs = cJSON_CreateArray();
    CHECK(docs != NULL);
    CHECK(docs && manifests_add_dir(docs, dir) > 0);
    CHECK(cJSON_GetArraySize(docs) > 0);
    test_shipped(docs);
    test_deployment(docs);
    test_table_drift(docs);
    cJSON_Delete(docs);

    test_missing_and_extra();
    test_wildcards();
    test_bindings();
    test_lease_role();
    return ird_check_summary("test_k8s_rbac");
}
