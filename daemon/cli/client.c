/* Client commands: talk to a running daemon's operator API. A client has no
 * event loop to keep responsive, so it uses curl's easy interface. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"

#define DEFAULT_URL  "http://127.0.0.1:9411"
#define MAX_RESPONSE (64 * 1024 * 1024)

struct client {
    const char *url;
    const char *token;
    int json; /* -o json */
};

static size_t on_data(char *ptr, size_t size, size_t n, void *data)
{
    struct ird_buf *b = data;
    if (b->len + size * n > MAX_RESPONSE || ird_buf_append(b, ptr, size * n))
        return 0;
    return size * n;
}

long ird_cli_request(const char *method, const char *base_url, const char *token, const char *path,
                     const char *body, struct ird_buf *out)
{
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    struct ird_buf url = IRD_BUF_INIT;
    size_t base = strlen(base_url);
    while (base && base_url[base - 1] == '/')
        base--; /* "http://host:9411/" and "http://host:9411" mean the same */
    ird_buf_printf(&url, "%.*s%s", (int)base, base_url, path);
    struct curl_slist *hdrs = NULL;
    struct ird_buf auth = IRD_BUF_INIT;
    if (token && *token) {
        ird_buf_printf(&auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth.data);
    }
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    long status = -1;
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr,
                "ird: cannot reach the daemon at %s: %s\n"
                "     start it with 'ird serve', or point --url / IRD_URL at its api listener\n",
                base_url, curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    if (auth.data)
        memset(auth.data, 0, auth.len);
    ird_buf_free(&auth);
    ird_buf_free(&url);
    curl_easy_cleanup(h);
    return status;
}

int ird_cli_call(const char *base_url, const char *token, const char *method, const char *path,
                 const cJSON *body, long want, cJSON **ret)
{
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    if (body && !text) {
        fputs("ird: out of memory\n", stderr);
        return 1;
    }
    struct ird_buf answer = IRD_BUF_INIT;
    long status = ird_cli_request(method, base_url, token, path, text, &answer);
    cJSON_free(text);
    int rc = 1;
    if (status < 0) {
        /* ird_cli_request said why. */
    } else if (status != want) {
        rc = ird_cli_api_failure(status, &answer);
    } else if (ret) {
        *ret = cJSON_Parse(answer.data ? answer.data : "");
        if (*ret)
            rc = 0;
        else
            fprintf(stderr, "ird: the daemon at %s answered %ld with something that is not JSON\n",
                    base_url, status);
    } else {
        rc = 0;
    }
    ird_buf_free(&answer);
    return rc;
}

/* Print o compactly on a line (-o json). */
static void print_compact(const cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    if (text) {
        printf("%s\n", text);
        cJSON_free(text);
    }
}

int ird_cli_id_path(struct ird_buf *path, const char *prefix, const char *id, const char *suffix)
{
    char *esc = curl_easy_escape(NULL, id, 0);
    if (!esc)
        return -ENOMEM;
    int rc = ird_buf_printf(path, "%s%s%s", prefix, esc, suffix);
    curl_free(esc);
    return rc;
}

int ird_cli_add_query(struct ird_buf *q, const char *name, const char *value)
{
    if (!value)
        return 0;
    char *esc = curl_easy_escape(NULL, value, 0);
    if (!esc)
        return -ENOMEM;
    int rc = ird_buf_printf(q, "%s%s=%s", q->len ? "&" : "?", name, esc);
    curl_free(esc);
    return rc;
}

int ird_cli_api_failure(long status, const struct ird_buf *body)
{
    cJSON *o = body->data ? cJSON_Parse(body->data) : NULL;
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(o, "detail");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(o, "error");
    fprintf(stderr, "ird: %ld %s%s%s\n", status,
            cJSON_IsString(error) ? error->valuestring : "error",
            cJSON_IsString(detail) ? ": " : "", cJSON_IsString(detail) ? detail->valuestring : "");
    if (status == 401)
        fputs("     pass a token from api.tokens with --token or IRD_TOKEN\n", stderr);
    cJSON_Delete(o);
    return 1;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

/* Options shared by client commands; the command's own are in extra. */
static int parse_client(const struct ird_command *cmd, int argc, char **argv, struct client *c,
                        const struct option *extra, size_t nextra,
                        int (*on_extra)(int ch, const char *arg, void *data), void *data)
{
    struct option opts[16] = {
        {"url", required_argument, NULL, 'u'},
        {"token", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
    };
    size_t n = 4;
    for (size_t i = 0; i < nextra && n < 15; i++)
        opts[n++] = extra[i];
    opts[n] = (struct option){NULL, 0, NULL, 0};
    c->url = getenv("IRD_URL") ? getenv("IRD_URL") : DEFAULT_URL;
    c->token = getenv("IRD_TOKEN");
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            c->url = optarg;
            break;
        case 't':
            c->token = optarg;
            break;
        case 'o':
            if (strcmp(optarg, "json") == 0)
                c->json = 1;
            else if (strcmp(optarg, "table") != 0)
                return ird_cli_usage_error(cmd, "-o takes table or json, not '%s'", optarg);
            break;
        case 'h':
            fputs(cmd->usage, stdout);
            return 0;
        case '?':
            return ird_cli_usage_error(cmd, "unknown option %s", argv[optind - 1]);
        default:
            if (!on_extra || on_extra(ch, optarg, data))
                return ird_cli_usage_error(cmd, "unknown option %s", argv[optind - 1]);
        }
    }
    return -1;
}

struct filters {
    struct ird_buf query;
};

static int on_filter(int ch, const char *arg, void *data)
{
    static const char *const names[] = {"state", "source", "namespace", "severity", "limit"};
    if (ch < 1 || ch > 5)
        return -1;
    struct filters *f = data;
    return ird_cli_add_query(&f->query, names[ch - 1], arg) < 0 ? -1 : 0;
}

int ird_cli_incidents(const struct ird_command *cmd, int argc, char **argv)
{
    static const struct option extra[] = {
        {"state", required_argument, NULL, 1},     {"source", required_argument, NULL, 2},
        {"namespace", required_argument, NULL, 3}, {"severity", required_argument, NULL, 4},
        {"limit", required_argument, NULL, 5},
    };
    struct client c = {0};
    struct filters f = {IRD_BUF_INIT};
    int rc = parse_client(cmd, argc, argv, &c, extra, 5, on_filter, &f);
    if (rc >= 0) {
        ird_buf_free(&f.query);
        return rc;
    }
    if (optind < argc) {
        ird_buf_free(&f.query);
        return ird_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    }
    struct ird_buf path = IRD_BUF_INIT;
    ird_buf_printf(&path, "/v1/incidents%s", f.query.data ? f.query.data : "");
    cJSON *o = NULL;
    rc = ird_cli_call(c.url, c.token, "GET", path.data, NULL, 200, &o);
    ird_buf_free(&path);
    ird_buf_free(&f.query);
    if (rc)
        return rc;
    if (c.json) {
        print_compact(o);
        cJSON_Delete(o);
        return 0;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "incidents");
    printf("%-22s %-13s %-9s %-14s %-28s %s\n", "ID", "STATE", "SEVERITY", "SOURCE",
           "NAMESPACE/POD", "TITLE");
    const cJSON *inc;
    cJSON_ArrayForEach(inc, list) {
        char where[256];
        snprintf(where, sizeof(where), "%s/%s", str(inc, "namespace"), str(inc, "pod"));
        printf("%-22s %-13s %-9s %-14s %-28s %s\n", str(inc, "id"), str(inc, "state"),
               str(inc, "severity"), str(inc, "source"), where, str(inc, "title"));
    }
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(o, "next_cursor");
    if (cJSON_IsString(next))
        printf("(more incidents: raise --limit, or page with -o json and GET "
               "/v1/incidents?cursor=%s)\n",
               next->valuestring);
    cJSON_Delete(o);
    return 0;
}

int ird_cli_incident(const struct ird_command *cmd, int argc, char **argv)
{
    struct client c = {0};
    int rc = parse_client(cmd, argc, argv, &c, NULL, 0, NULL, NULL);
    if (rc >= 0)
        return rc;
    if (optind != argc - 1)
        return ird_cli_usage_error(cmd, "give exactly one incident ID");
    struct ird_buf path = IRD_BUF_INIT;
    if (ird_cli_id_path(&path, "/v1/incidents/", argv[optind], "") < 0) {
        ird_buf_free(&path);
        return 1;
    }
    cJSON *o = NULL;
    rc = ird_cli_call(c.url, c.token, "GET", path.data, NULL, 200, &o);
    ird_buf_free(&path);
    if (rc)
        return rc;
    if (c.json) {
        print_compact(o);
        cJSON_Delete(o);
        return 0;
    }
    printf("incident   %s\nstate      %s\nseverity   %s\ntitle      %s\nsource     %s\n"
           "target     %s/%s\nopened     %s\nupdated    %s\n",
           str(o, "id"), str(o, "state"), str(o, "severity"), str(o, "title"), str(o, "source"),
           str(o, "namespace"), str(o, "pod"), str(o, "opened_at"), str(o, "updated_at"));
    printf("\nalerts:\n");
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(o, "alerts")) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(a, "received");
        printf("  %-9s %-9s received %-4d last %s  %s\n", str(a, "status"), str(a, "severity"),
               cJSON_IsNumber(n) ? n->valueint : 0, str(a, "last_seen"), str(a, "dedup_key"));
    }
    printf("\ntimeline:\n");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o, "timeline"))
        printf("  %s  %s\n", str(t, "at"), str(t, "kind"));
    cJSON_Delete(o);
    return 0;
}

/* ird ack ID / ird resolve ID: POST /v1/incidents/<id><suffix>. */
static int incident_action(const struct ird_command *cmd, int argc, char **argv, const char *suffix)
{
    struct client c = {0};
    int rc = parse_client(cmd, argc, argv, &c, NULL, 0, NULL, NULL);
    if (rc >= 0)
        return rc;
    if (optind != argc - 1)
        return ird_cli_usage_error(cmd, "give exactly one incident ID");
    struct ird_buf path = IRD_BUF_INIT;
    if (ird_cli_id_path(&path, "/v1/incidents/", argv[optind], suffix) < 0) {
        ird_buf_free(&path);
        return 1;
    }
    cJSON *o = NULL, *empty = cJSON_CreateObject();
    rc = ird_cli_call(c.url, c.token, "POST", path.data, empty, 200, &o);
    cJSON_Delete(empty);
    ird_buf_free(&path);
    if (rc)
        return rc;
    if (c.json)
        print_compact(o);
    else
        printf("%s: %s by %s\n", str(o, "incident"), str(o, "state"), str(o, "by"));
    cJSON_Delete(o);
    return 0;
}

int ird_cli_ack(const struct ird_command *cmd, int argc, char **argv)
{
    return incident_action(cmd, argc, argv, "/ack");
}

int ird_cli_resolve(const struct ird_command *cmd, int argc, char **argv)
{
    return incident_action(cmd, argc, argv, "/resolve");
}
