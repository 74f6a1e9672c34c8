/* core/k8s_names: the API's naming rules for the values ird sends, and the
 * messages a user sees when an alert carries a value that breaks them. */
#include "check.h"
#include "core/k8s_names.h"

#include <stdlib.h>

static int ok(enum ird_k8s_name_kind kind, const char *v)
{
    struct ird_err err = {{0}};
    return ird_k8s_check_name(kind, v, &err);
}

/* The reason for a rejected value ("" when it was accepted). */
static const char *why(enum ird_k8s_name_kind kind, const char *v)
{
    static struct ird_err err;
    err.msg[0] = '\0';
    if (ird_k8s_check_name(kind, v, &err) == 0)
        return "";
    return err.msg;
}

static void test_namespaces(void)
{
    CHECK_INT(ok(IRD_K8S_NAMESPACE, "prod"), 0);
    CHECK_INT(ok(IRD_K8S_NAMESPACE, "kube-system"), 0);
    CHECK_INT(ok(IRD_K8S_NAMESPACE, "a"), 0);
    CHECK_INT(ok(IRD_K8S_NAMESPACE, "0abc9"), 0);
    CHECK_INT(ok(IRD_K8S_NAMESPACE, "my.ns"), -EINVAL);
    CHECK_INT(ok(IRD_K8S_NAMESPACE, "-prod"), -EINVAL);
    CHECK_INT(ok(IRD_K8S_NAMESPACE, "prod-"), -EINVAL);
    CHECK_INT(ok(IRD_K8S_NAMESPACE, "Prod"), -EINVAL);
    CHECK_STR(why(IRD_K8S_NAMESPACE, "Prod"),
              "namespace \"Prod\" is not a valid Kubernetes name: must consist of lower case "
              "alphanumeric characters or '-', and must start and end with an alphanumeric "
              "character");
    CHECK_STR(why(IRD_K8S_NAMESPACE, ""),
              "namespace \"\" is not a valid Kubernetes name: must not be empty");
    CHECK_STR(why(IRD_K8S_NAMESPACE, NULL),
              "namespace \"\" is not a valid Kubernetes name: must not be empty");

    char n63[64], n64[65];
    memset(n63, 'a', 63);
    n63[63] = '\0';
    memset(n64, 'a', 64);
    n64[64] = '\0';
    CHECK_INT(ok(IRD_K8S_NAMESPACE, n63), 0);
    CHECK_STR(why(IRD_K8S_NAMESPACE, n64),
              "namespace \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"... is not a valid Kubernetes "
              "name: must be no more than 63 characters (got 64)");
}

static void test_object_names(void)
{
    CHECK_INT(ok(IRD_K8S_POD_NAME, "web-7d9f8c6b5-x2x9q"), 0);
    CHECK_INT(ok(IRD_K8S_POD_NAME, "a.b.c"), 0);
    CHECK_INT(ok(IRD_K8S_NODE_NAME, "ip-10-0-1-23.eu-west-1.compute.internal"), 0);
    CHECK_INT(ok(IRD_K8S_SECRET_NAME, "db-credentials"), 0);
    CHECK_INT(ok(IRD_K8S_OBJECT_NAME, "ird-quarantine-inc-42"), 0);
    CHECK_STR(why(IRD_K8S_POD_NAME, "../x"),
              "pod name \"../x\" is not a valid Kubernetes name: must consist of lower case "
              "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
              "character");
    CHECK_INT(ok(IRD_K8S_POD_NAME, "a..b"), -EINVAL);
    CHECK_INT(ok(IRD_K8S_POD_NAME, "a.-b"), -EINVAL);
    CHECK_INT(ok(IRD_K8S_POD_NAME, "a/b"), -EINVAL);
    CHECK_INT(ok(IRD_K8S_POD_NAME, "."), -EINVAL);
    CHECK_INT(ok(IRD_K8S_POD_NAME, "a b"), -EINVAL);
    CHECK_STR(why(IRD_K8S_SECRET_NAME, "a;b"),
              "secret name \"a;b\" is not a valid Kubernetes name: must consist of lower case "
              "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
              "character");
    CHECK_STR(why(IRD_K8S_POD_NAME, "$(id)"),
              "pod name \"$(id)\" is not a valid Kubernetes name: must consist of lower case "
              "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
              "character");
    /* UTF-8 is not allowed, and is shown escaped. */
    CHECK_STR(why(IRD_K8S_NODE_NAME, "n\xc3\xb6"
                                     "de"),
              "node name \"n\\xc3\\xb6de\" is not a valid Kubernetes name: must consist of lower "
              "case alphanumeric characters, '-' or '.', and must start and end with an "
              "alphanumeric character");

    char n300[301];
    memset(n300, 'a', 300);
    n300[300] = '\0';
    CHECK_STR(why(IRD_K8S_POD_NAME, n300),
              "pod name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"... is not a valid Kubernetes "
              "name: must be no more than 253 characters (got 300)");
    /* 253 characters made of valid labels is the longest name. */
    char n253[254];
    for (int i = 0; i < 253; i++)
        n253[i] = (i % 50 == 49) ? '.' : 'b';
    n253[253] = '\0';
    CHECK_INT(ok(IRD_K8S_OBJECT_NAME, n253), 0);
}

static void test_label_names(void)
{
    CHECK_INT(ok(IRD_K8S_CONTAINER_NAME, "nginx"), 0);
    CHECK_INT(ok(IRD_K8S_LABEL_NAME, "sidecar-1"), 0);
    CHECK_STR(why(IRD_K8S_CONTAINER_NAME, "app.v1"),
              "container name \"app.v1\" is not a valid Kubernetes name: must consist of lower "
              "case alphanumeric characters or '-', and must start and end with an alphanumeric "
              "character");
}

static void test_label_keys_and_values(void)
{
    CHECK_INT(ok(IRD_K8S_LABEL_KEY, "app"), 0);
    CHECK_INT(ok(IRD_K8S_LABEL_KEY, "ird.io/quarantine"), 0);
    CHECK_INT(ok(IRD_K8S_LABEL_KEY, "app.kubernetes.io/name"), 0);
    CHECK_INT(ok(IRD_K8S_LABEL_KEY, "My_Key.v2"), 0);
    CHECK_STR(why(IRD_K8S_LABEL_KEY, "a/b/c"),
              "label key \"a/b/c\" is not a valid Kubernetes label key: must be a name with an "
              "optional prefix and '/' (e.g. 'example.com/my-name'), with at most one '/'");
    CHECK_STR(why(IRD_K8S_LABEL_KEY, "/x"),
              "label key \"/x\" is not a valid Kubernetes label key: the prefix before '/' must "
              "not be empty");
    CHECK_STR(why(IRD_K8S_LABEL_KEY, "Example.com/x"),
              "label key \"Example.com/x\" is not a valid Kubernetes label key: the prefix before "
              "'/' must consist of lower case alphanumeric characters, '-' or '.', and must start "
              "and end with an alphanumeric character");
    CHECK_STR(why(IRD_K8S_LABEL_KEY, "ird.io/"),
              "label key \"ird.io/\" is not a valid Kubernetes label key: the name part must not "
              "be empty");
    CHECK_STR(why(IRD_K8S_LABEL_KEY, "_x"),
              "label key \"_x\" is not a valid Kubernetes label key: must consist of alphanumeric "
              "characters, '-', '_' or '.', and must start and end with an alphanumeric character");
    CHECK_STR(why(IRD_K8S_LABEL_KEY, ""),
              "label key \"\" is not a valid Kubernetes label key: must not be empty");

    /* Newline injection: the value is shown escaped, on one line. */
    CHECK_STR(why(IRD_K8S_LABEL_VALUE, "ok\nlevel=error msg=\"forged\""),
              "label value \"ok\\x0alevel=error msg=\\\"forged\\\"\" is not a valid Kubernetes "
              "label value: must be empty or consist of alphanumeric characters, '-', '_' or '.', "
              "and must start and end with an alphanumeric character");
    CHECK_INT(ok(IRD_K8S_LABEL_VALUE, ""), 0);
    CHECK_INT(ok(IRD_K8S_LABEL_VALUE, "inc-20261201-0001"), 0);
    CHECK_INT(ok(IRD_K8S_LABEL_VALUE, "Mixed_Case.1"), 0);
    CHECK_INT(ok(IRD_K8S_LABEL_VALUE, "true "), -EINVAL);
    char v64[65];
    memset(v64, 'v', 64);
    v64[64] = '\0';
    CHECK_INT(ok(IRD_K8S_LABEL_VALUE, v64), -EINVAL);

    /* Annotation keys: validated lower-cased, as the API server does. */
    CHECK_INT(ok(IRD_K8S_ANNOTATION_KEY, "ird.io/rotated-at"), 0);
    CHECK_INT(ok(IRD_K8S_ANNOTATION_KEY, "IRD.io/Rotated-At"), 0);
    CHECK_INT(ok(IRD_K8S_ANNOTATION_KEY, "ird.io/rotated at"), -EINVAL);
}

static void test_quote_and_kinds(void)
{
    char q[IRD_K8S_QUOTE_MAX];
    CHECK_STR(ird_k8s_quote("plain", q, sizeof(q)), "\"plain\"");
    CHECK_STR(ird_k8s_quote("a\"b\\c\td", q, sizeof(q)), "\"a\\\"b\\\\c\\x09d\"");
    CHECK_STR(ird_k8s_quote(NULL, q, sizeof(q)), "\"\"");
    char small[12];
    CHECK_STR(ird_k8s_quote("abcdefghijklmnop", small, sizeof(small)), "\"abcdef\"...");
    CHECK(strlen(ird_k8s_quote("\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"
                               "\n\n\n\n\n\n\n\n\n\n\n\n\n",
                               q, sizeof(q))) < sizeof(q));
    CHECK_STR(ird_k8s_kind_name(IRD_K8S_POD_NAME), "pod name");
    CHECK_STR(ird_k8s_kind_name((enum ird_k8s_name_kind)99), "name");
    CHECK_STR(ird_k8s_kind_rule(IRD_K8S_NAMESPACE),
              "a DNS-1123 label: at most 63 characters, must consist of lower case alphanumeric "
              "characters or '-', and must start and end with an alphanumeric character");
    CHECK_STR(ird_k8s_kind_rule((enum ird_k8s_name_kind)99), "");
    for (int k = 0; k < IRD_K8S_NAME_KIND_COUNT; k++)
        CHECK(ird_k8s_kind_rule((enum ird_k8s_name_kind)k)[0] != '\0');
    struct ird_err err = {{0}};
    CHECK_INT(ird_k8s_check_name((enum ird_k8s_name_kind)99, "x", &err), -EINVAL);
    /* A NULL err is allowed. */
    CHECK_INT(ird_k8s_check_name(IRD_K8S_POD_NAME, "../x", NULL), -EINVAL);
}

int main(void)
{
    test_namespaces();
    test_object_names();
    test_label_names();
    test_label_keys_and_values();
    test_quote_and_kinds();
    return ird_check_summary("test_k8s_names");
}
