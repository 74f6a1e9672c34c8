/* The run-engine client commands: `ird runs`, `ird run ID`, `ird trigger
 * PLAYBOOK`, `ird approve RUN [STEP]` and `ird cancel RUN`, over a running
 * daemon's operator API (ird_cli_request). Options come from one table. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"

#define DEFAULT_URL "http://127.0.0.1:9411"
#define LIMIT_MAX   500 /* what GET /v1/runs accepts */

/* ---- options ----------------------------------------------------- */

enum opt_id {
    OPT_URL = 256,
    OPT_TOKEN,
    OPT_STATE,
    OPT_PLAYBOOK,
    OPT_INCIDENT,
    OPT_LIMIT,
    OPT_DRY_RUN,
    OPT_FORCE,
    OPT_OUTPUT = 'o',
    OPT_PARAM = 'p',
    OPT_HELP = 'h',
};

/* Which commands take an option. */
enum {
    F_RUNS = 1 << 0,
    F_RUN = 1 << 1,
    F_TRIGGER = 1 << 2,
    F_APPROVE = 1 << 3,
    F_CANCEL = 1 << 4,
    F_ALL = F_RUNS | F_RUN | F_TRIGGER | F_APPROVE | F_CANCEL,
};

struct opt_row {
    struct option opt;
    unsigned commands;
};

static const struct opt_row opt_table[] = {
    {{"url", required_argument, NULL, OPT_URL}, F_ALL},
    {{"token", required_argument, NULL, OPT_TOKEN}, F_ALL},
    {{"help", no_argument, NULL, OPT_HELP}, F_ALL},
    {{"output", required_argument, NULL, OPT_OUTPUT}, F_RUNS | F_RUN | F_TRIGGER},
    {{"state", required_argument, NULL, OPT_STATE}, F_RUNS},
    {{"playbook", required_argument, NULL, OPT_PLAYBOOK}, F_RUNS},
    {{"incident", required_argument, NULL, OPT_INCIDENT}, F_RUNS | F_TRIGGER},
    {{"limit", required_argument, NULL, OPT_LIMIT}, F_RUNS},
    {{"param", required_argument, NULL, OPT_PARAM}, F_TRIGGER},
    {{"dry-run", no_argument, NULL, OPT_DRY_RUN}, F_TRIGGER},
    {{"force", no_argument, NULL, OPT_FORCE}, F_APPROVE},
};

#define NOPTS (sizeof(opt_table) / sizeof(opt_table[0]))

struct opts {
    const char *url, *token;
    bool json;
    const char *state, *playbook, *incident, *limit;
    bool dry_run, force;
    cJSON *params; /* -p key=value, trigger only; owned */
    const char *pos[2];
    int npos;
};

/* Add one -p key=value to o->params. Returns 0, or a usage message in msg. */
static int add_param(struct opts *o, const char *arg, char *msg, size_t len)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        snprintf(msg, len, "-p takes key=value, not '%s'", arg);
        return -EINVAL;
    }
    size_t klen = (size_t)(eq - arg);
    char *key = strndup(arg, klen);
    if (!key || (!o->params && !(o->params = cJSON_CreateObject()))) {
        free(key);
        snprintf(msg, len, "out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    if (cJSON_GetObjectItemCaseSensitive(o->params, key)) {
        snprintf(msg, len, "-p %s is given twice", key);
        rc = -EINVAL;
    } else if (!cJSON_AddStringToObject(o->params, key, eq + 1)) {
        snprintf(msg, len, "out of memory");
        rc = -ENOMEM;
    }
    free(key);
    return rc;
}

/* Parse argv for the command `which` (an F_ flag) taking between min_pos and
 * max_pos positional arguments. Returns -1 to go on, or the exit code (0 after
 * --help, 2 on a usage error). o->params is the caller's to free either way. */
static int parse(const struct ird_command *cmd, unsigned which, int argc, char **argv, int min_pos,
                 int max_pos, const char *pos_usage, struct opts *o)
{
    struct option longopts[NOPTS + 1];
    char shorts[2 * NOPTS + 1]; /* options whose id is a letter also have a short form */
    size_t n = 0, ns = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        if (!(opt_table[i].commands & which))
            continue;
        longopts[n++] = opt_table[i].opt;
        if (opt_table[i].opt.val < OPT_URL) {
            shorts[ns++] = (char)opt_table[i].opt.val;
            if (opt_table[i].opt.has_arg == required_argument)
                shorts[ns++] = ':';
        }
    }
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    shorts[ns] = '\0';
    o->url = getenv("IRD_URL") ? getenv("IRD_URL") : DEFAULT_URL;
    o->token = getenv("IRD_TOKEN");
    optind = 1;
    opterr = 0;
    int ch;
    char msg[300];
    while ((ch = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_URL:
            o->url = optarg;
            break;
        case OPT_TOKEN:
            o->token = optarg;
            break;
        case OPT_HELP:
            fputs(cmd->usage, stdout);
            return 0;
        case OPT_OUTPUT:
            if (strcmp(optarg, "json") == 0)
                o->json = true;
            else if (strcmp(optarg, "table") == 0)
                o->json = false;
            else
                return ird_cli_usage_error(cmd, "-o takes table or json, not '%s'", optarg);
            break;
        case OPT_STATE:
            o->state = optarg;
            break;
        case OPT_PLAYBOOK:
            o->playbook = optarg;
            break;
        case OPT_INCIDENT:
            o->incident = optarg;
            break;
        case OPT_LIMIT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > LIMIT_MAX)
                return ird_cli_usage_error(cmd, "--limit takes 1 to %d, not '%s'", LIMIT_MAX,
                                           optarg);
            o->limit = optarg;
            break;
        }
        case OPT_PARAM:
            if (add_param(o, optarg, msg, sizeof(msg)))
                return ird_cli_usage_error(cmd, "%s", msg);
            break;
        case OPT_DRY_RUN:
            o->dry_run = true;
            break;
        case OPT_FORCE:
            o->force = true;
            break;
        default:
            if (optopt && optopt < OPT_URL)
                return ird_cli_usage_error(cmd, "unknown or incomplete option -%c", optopt);
            return ird_cli_usage_error(cmd, "unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    int npos = argc - optind;
    if (npos < min_pos || npos > max_pos)
        return ird_cli_usage_error(cmd, "give %s", pos_usage);
    for (int i = 0; i < npos; i++)
        o->pos[i] = argv[optind + i];
    o->npos = npos;
    return -1;
}

/* ---- talking to the API ------------------------------------------ */

static int call(const struct opts *o, const char *method, const char *path, const cJSON *body,
                long want, cJSON **ret)
{
    return ird_cli_call(o->url, o->token, method, path, body, want, ret);
}

static int print_json(const cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    if (!text)
        return 1;
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

static bool is_true(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* ---- ird runs ---------------------------------------------------- */

int ird_cli_runs(const struct ird_command *cmd, int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse(cmd, F_RUNS, argc, argv, 0, 0, "no arguments, only options", &o);
    if (rc >= 0)
        return rc;
    struct ird_buf q = IRD_BUF_INIT, path = IRD_BUF_INIT;
    if (ird_cli_add_query(&q, "state", o.state) || ird_cli_add_query(&q, "playbook", o.playbook) ||
        ird_cli_add_query(&q, "incident", o.incident) || ird_cli_add_query(&q, "limit", o.limit) ||
        ird_buf_printf(&path, "/v1/runs%s", q.data ? q.data : "")) {
        ird_buf_free(&q);
        ird_buf_free(&path);
        fputs("ird: out of memory\n", stderr);
        return 1;
    }
    ird_buf_free(&q);
    cJSON *page = NULL;
    rc = call(&o, "GET", path.data, NULL, 200, &page);
    ird_buf_free(&path);
    if (rc)
        return rc;
    if (o.json) {
        rc = print_json(page);
        cJSON_Delete(page);
        return rc;
    }
    printf("%-12s %-17s %-24s %-22s %-7s %-24s %s\n", "RUN", "STATE", "PLAYBOOK", "INCIDENT",
           "DRY-RUN", "CREATED", "ERROR");
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(page, "runs")) {
        printf("%-12s %-17s %-24s %-22s %-7s %-24s %s\n", str(r, "id"), str(r, "state"),
               str(r, "playbook"), str(r, "incident"), is_true(r, "dry_run") ? "yes" : "no",
               str(r, "created_at"), str(r, "error"));
    }
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(page, "next_cursor");
    if (cJSON_IsString(next))
        printf("(more runs: raise --limit, or page with -o json and GET "
               "/v1/runs?cursor=%s)\n",
               next->valuestring);
    cJSON_Delete(page);
    return 0;
}

/* ---- ird run ID -------------------------------------------------- */

static void print_planned(const cJSON *step)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(step, "planned")) {
        printf("      planned: %s %s\n", str(p, "method"), str(p, "path"));
    }
}

static void print_run(const cJSON *run)
{
    bool dry = is_true(run, "dry_run");
    if (dry)
        printf("DRY-RUN: mutating steps were recorded as planned calls, nothing "
               "was changed\n\n");
    printf("run        %s%s\nplaybook   %s\nstate      %s\nmode       %s\nphase  "
           "    %s\n"
           "incident   %s\ntriggered  %s\ncreated    %s\nfinished   %s\n",
           str(run, "id"), dry ? " (dry-run)" : "", str(run, "playbook"), str(run, "state"),
           str(run, "mode"), str(run, "phase"), str(run, "incident"), str(run, "triggered_by"),
           str(run, "created_at"), str(run, "finished_at"));
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(run, "error")))
        printf("error      %s\n", str(run, "error"));
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(run, "params");
    if (cJSON_GetArraySize(params) > 0) {
        char *text = cJSON_PrintUnformatted(params);
        printf("params     %s\n", text ? text : "-");
        cJSON_free(text);
    }
    printf("\n%-3s %-20s %-20s %-17s %-8s %s\n", "#", "STEP", "ACTION", "STATE", "ATTEMPTS",
           "ERROR");
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(run, "steps")) {
        printf("%-3d %-20s %-20s %-17s %-8d %s\n", num(s, "index"), str(s, "name"),
               str(s, "action"), str(s, "state"), num(s, "attempts"), str(s, "error"));
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "approved_by")))
            printf("      approved by %s\n", str(s, "approved_by"));
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "forced_by")))
            printf("      guard overridden by %s\n", str(s, "forced_by"));
        print_planned(s);
    }
}

int ird_cli_run(const struct ird_command *cmd, int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse(cmd, F_RUN, argc, argv, 1, 1, "exactly one run ID", &o);
    if (rc >= 0)
        return rc;
    struct ird_buf path = IRD_BUF_INIT;
    if (ird_cli_id_path(&path, "/v1/runs/", o.pos[0], "")) {
        fputs("ird: out of memory\n", stderr);
        return 1;
    }
    cJSON *run = NULL;
    rc = call(&o, "GET", path.data, NULL, 200, &run);
    ird_buf_free(&path);
    if (rc)
        return rc;
    if (o.json)
        rc = print_json(run);
    else
        print_run(run);
    cJSON_Delete(run);
    return rc;
}

/* ---- ird trigger PLAYBOOK ---------------------------------------- */

int ird_cli_trigger(const struct ird_command *cmd, int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse(cmd, F_TRIGGER, argc, argv, 1, 1, "exactly one PLAYBOOK name", &o);
    if (rc >= 0) {
        cJSON_Delete(o.params);
        return rc;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *params = o.params ? o.params : cJSON_CreateObject();
    o.params = NULL;
    struct ird_buf path = IRD_BUF_INIT;
    if (body && params && cJSON_AddItemToObject(body, "params", params)) {
        params = NULL; /* body owns it now */
    } else {
        cJSON_Delete(body);
        body = NULL;
    }
    cJSON_Delete(params);
    if (!body || (o.incident && !cJSON_AddStringToObject(body, "incident", o.incident)) ||
        (o.dry_run && !cJSON_AddTrueToObject(body, "dry_run")) ||
        ird_cli_id_path(&path, "/v1/playbooks/", o.pos[0], "/runs")) {
        cJSON_Delete(body);
        ird_buf_free(&path);
        fputs("ird: out of memory\n", stderr);
        return 1;
    }
    cJSON *answer = NULL;
    rc = call(&o, "POST", path.data, body, 201, &answer);
    cJSON_Delete(body);
    ird_buf_free(&path);
    if (rc)
        return rc;
    bool failed = strcmp(str(answer, "status"), "failed") == 0;
    if (o.json)
        rc = print_json(answer);
    else
        printf("%s\n", str(answer, "run"));
    if (failed) {
        fprintf(stderr, "ird: run %s failed at once: %s\n     see 'ird run %s'\n",
                str(answer, "run"), str(answer, "error"), str(answer, "run"));
        rc = 1;
    }
    cJSON_Delete(answer);
    return rc;
}

/* ---- ird approve RUN [STEP], ird cancel RUN ---------------------- */

/* POST /v1/runs/<id>/<verb> with body; prints "<run>: <status>". */
static int run_action(const struct opts *o, const char *verb, const cJSON *body)
{
    struct ird_buf path = IRD_BUF_INIT;
    if (ird_cli_id_path(&path, "/v1/runs/", o->pos[0], verb)) {
        fputs("ird: out of memory\n", stderr);
        return 1;
    }
    cJSON *answer = NULL;
    int rc = call(o, "POST", path.data, body, 202, &answer);
    ird_buf_free(&path);
    if (rc)
        return rc;
    printf("%s: %s\n", str(answer, "run"), str(answer, "status"));
    cJSON_Delete(answer);
    return 0;
}

int ird_cli_approve(const struct ird_command *cmd, int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse(cmd, F_APPROVE, argc, argv, 1, 2, "a RUN id and optionally its STEP", &o);
    if (rc >= 0)
        return rc;
    cJSON *body = cJSON_CreateObject();
    if (!body || (o.npos == 2 && !cJSON_AddStringToObject(body, "step", o.pos[1])) ||
        (o.force && !cJSON_AddTrueToObject(body, "force"))) {
        cJSON_Delete(body);
        fputs("ird: out of memory\n", stderr);
        return 1;
    }
    rc = run_action(&o, "/approve", body);
    cJSON_Delete(body);
    return rc;
}

int ird_cli_cancel(const struct ird_command *cmd, int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse(cmd, F_CANCEL, argc, argv, 1, 1, "exactly one RUN id", &o);
    if (rc >= 0)
        return rc;
    rc = run_action(&o, "/cancel", NULL);
    if (rc == 0)
        puts("(a step in flight finishes first; later steps do not run)");
    return rc;
}
