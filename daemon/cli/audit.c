/* `ird audit`: list the audit trail through a running daemon's API, and
 * `ird audit verify`: check the hash chain in state_dir/ird.db directly,
 * read-only (a WAL reader, so it works while the daemon runs). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "core/buf.h"
#include "store/audit.h"

/* The command's entry (main.c's table); cli/cli.h carries the same declaration. */
int ird_cli_audit(const struct ird_command *cmd, int argc, char **argv);

#define DEFAULT_URL "http://127.0.0.1:9411"
#define PAGE        1000

/* ---- verify ------------------------------------------------------------------ */

static int verify_db(const char *path)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        fprintf(stderr,
                "ird: cannot open %s: %s\n"
                "     check state_dir in the configuration (-c FILE), or pass --db PATH\n",
                path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return 1;
    }
    sqlite3_busy_timeout(db, 5000);
    int64_t checked = 0, bad = 0;
    struct ird_err err = {{0}};
    rc = ird_audit_verify(db, &checked, &bad, &err);
    sqlite3_close(db);
    if (rc == 0) {
        printf("audit trail intact: %" PRId64 " record%s\n", checked, checked == 1 ? "" : "s");
        return 0;
    }
    if (rc == -EBADMSG) {
        printf("audit trail broken: %s\n", err.msg);
        printf("  %" PRId64 " record%s before it verified; compare %s with a backup and find who "
               "could write to it\n",
               checked, checked == 1 ? "" : "s", path);
        return 1;
    }
    fprintf(stderr, "ird: %s: %s\n     is it an ird state database?\n", path, err.msg);
    return 1;
}

static int cmd_verify(const struct ird_command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *db = NULL;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'd':
            db = optarg;
            break;
        case 'h':
            fputs(cmd->usage, stdout);
            return 0;
        default:
            return ird_cli_usage_error(cmd, "unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return ird_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (config && db)
        return ird_cli_usage_error(cmd, "give -c FILE or --db PATH, not both");
    if (db)
        return verify_db(db);
    struct ird_diags diags = {IRD_BUF_INIT, 0};
    struct ird_config *c = ird_config_load(config, &diags);
    if (!c) {
        fputs(diags.text.data ? diags.text.data : "cannot load the configuration\n", stderr);
        fputs("ird: fix the configuration (see 'ird check'), or pass --db PATH\n", stderr);
        ird_diags_free(&diags);
        return 1;
    }
    ird_diags_free(&diags);
    struct ird_buf path = IRD_BUF_INIT;
    int rc = 1;
    if (ird_buf_printf(&path, "%s/ird.db", c->state_dir) == 0)
        rc = verify_db(path.data);
    ird_buf_free(&path);
    ird_config_free(c);
    return rc;
}

/* ---- list -------------------------------------------------------------------- */

struct list_opts {
    const char *url, *token;
    const char *since, *kind, *after, *limit;
    int json;
};

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

static void print_row(const cJSON *r)
{
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(r, "seq");
    char *detail = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r, "detail"));
    printf("%-7.0f %-24s %-16s %-22s %-24s %s\n", cJSON_IsNumber(seq) ? seq->valuedouble : 0.0,
           str(r, "at"), str(r, "actor"), str(r, "kind"), str(r, "subject"), detail ? detail : "-");
    cJSON_free(detail);
}

/* One page: records after `after`; *ret_page owns the parsed answer. Returns
 * 0, or the exit code. */
static int fetch_page(const struct list_opts *o, const char *after, int limit, cJSON **ret_page)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    struct ird_buf url = IRD_BUF_INIT, q = IRD_BUF_INIT;
    int rc = 1;
    if (ird_cli_add_query(&q, "since", o->since) || ird_cli_add_query(&q, "kind", o->kind) ||
        ird_cli_add_query(&q, "after", after) || ird_cli_add_query(&q, "limit", lim) ||
        ird_buf_printf(&url, "/v1/audit%s", q.data ? q.data : ""))
        goto out;
    rc = ird_cli_call(o->url, o->token, "GET", url.data, NULL, 200, ret_page);
    if (rc)
        goto out;
    rc = 1;
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*ret_page, "records"))) {
        fprintf(stderr, "ird: the daemon at %s answered something that is not an audit page\n",
                o->url);
        cJSON_Delete(*ret_page);
        *ret_page = NULL;
        goto out;
    }
    rc = 0;
out:
    ird_buf_free(&url);
    ird_buf_free(&q);
    return rc;
}

/* Without --limit every page is fetched (following next_after); with it, one
 * page and a hint when there is more. */
static int list(const struct list_opts *o)
{
    int limit = o->limit ? (int)strtol(o->limit, NULL, 10) : PAGE;
    cJSON *all = cJSON_CreateArray();
    if (!all)
        return 1;
    if (!o->json)
        printf("%-7s %-24s %-16s %-22s %-24s %s\n", "SEQ", "AT", "ACTOR", "KIND", "SUBJECT",
               "DETAIL");
    char after[32];
    const char *cursor = o->after;
    double next = 0;
    int rc = 0;
    for (;;) {
        cJSON *page = NULL;
        if ((rc = fetch_page(o, cursor, limit, &page)))
            break;
        cJSON *records = cJSON_GetObjectItemCaseSensitive(page, "records");
        const cJSON *r;
        if (!o->json)
            cJSON_ArrayForEach(r, records)
                print_row(r);
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(page, "next_after");
        next = cJSON_IsNumber(n) ? n->valuedouble : 0;
        if (o->json) {
            /* Move the records over to the combined list. */
            while (cJSON_GetArraySize(records) > 0)
                cJSON_AddItemToArray(all, cJSON_DetachItemFromArray(records, 0));
        }
        cJSON_Delete(page);
        if (next <= 0 || o->limit)
            break;
        snprintf(after, sizeof(after), "%.0f", next);
        cursor = after;
    }
    if (!rc && o->json) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddItemToObject(out, "records", all);
        all = NULL;
        if (next > 0)
            cJSON_AddNumberToObject(out, "next_after", next);
        else
            cJSON_AddNullToObject(out, "next_after");
        char *text = cJSON_PrintUnformatted(out);
        cJSON_Delete(out);
        if (text)
            printf("%s\n", text);
        else
            rc = 1;
        cJSON_free(text);
    } else if (!rc && next > 0) {
        printf("(more: --after %.0f)\n", next);
    }
    cJSON_Delete(all);
    return rc;
}

static int cmd_list(const struct ird_command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"since", required_argument, NULL, 's'},
        {"kind", required_argument, NULL, 'k'},
        {"after", required_argument, NULL, 'a'},
        {"limit", required_argument, NULL, 'l'},
        {"output", required_argument, NULL, 'o'},
        {"url", required_argument, NULL, 'u'},
        {"token", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct list_opts o = {
        .url = getenv("IRD_URL") ? getenv("IRD_URL") : DEFAULT_URL,
        .token = getenv("IRD_TOKEN"),
    };
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            o.since = optarg;
            break;
        case 'k':
            o.kind = optarg;
            break;
        case 'a':
            o.after = optarg;
            break;
        case 'l':
            o.limit = optarg;
            break;
        case 'u':
            o.url = optarg;
            break;
        case 't':
            o.token = optarg;
            break;
        case 'o':
            if (strcmp(optarg, "json") == 0)
                o.json = 1;
            else if (strcmp(optarg, "table") != 0)
                return ird_cli_usage_error(cmd, "-o takes table or json, not '%s'", optarg);
            break;
        case 'h':
            fputs(cmd->usage, stdout);
            return 0;
        default:
            return ird_cli_usage_error(cmd, "unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return ird_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (o.limit) {
        char *end;
        long n = strtol(o.limit, &end, 10);
        if (*end || end == o.limit || n < 1 || n > PAGE)
            return ird_cli_usage_error(cmd, "--limit takes 1 to %d, not '%s'", PAGE, o.limit);
    }
    return list(&o);
}

int ird_cli_audit(const struct ird_command *cmd, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(cmd, argc - 1, argv + 1);
    return cmd_list(cmd, argc, argv);
}
