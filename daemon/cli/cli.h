/* Commands of the ird binary. Each takes argc/argv after the command name
 * (argv[0] is the command) and returns the exit code: 0 ok, 1 a failure the
 * user can act on (with a message saying what to do), 2 usage. To add a
 * command, write its function here and add a row to main.c's table. */
#ifndef IRD_CLI_CLI_H
#define IRD_CLI_CLI_H

#include <cjson/cJSON.h>

struct ird_command {
    const char *name;
    const char *summary;
    const char *usage; /* full --help text */
    int (*run)(const struct ird_command *cmd, int argc, char **argv);
};

int ird_cli_serve(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_check(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_version(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_incidents(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_audit(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_incident(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_ack(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_resolve(const struct ird_command *cmd, int argc, char **argv);
/* The run-engine client commands (cli/runs.c). */
int ird_cli_runs(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_run(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_trigger(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_approve(const struct ird_command *cmd, int argc, char **argv);
int ird_cli_cancel(const struct ird_command *cmd, int argc, char **argv);

struct ird_buf;

/* One request to a daemon's operator API (base_url + path, path already
 * percent-encoded; body is JSON or NULL). The HTTP status, or -1 when the
 * daemon could not be reached (a message saying what to do is printed).
 * The CLI has no event loop to keep responsive: this blocks. */
long ird_cli_request(const char *method, const char *base_url, const char *token, const char *path,
                     const char *body, struct ird_buf *out);
/* One API call expecting status want; on it *ret (may be NULL) gets the
 * parsed answer (caller frees). Returns 0, or exit code 1 after printing why. */
int ird_cli_call(const char *base_url, const char *token, const char *method, const char *path,
                 const cJSON *body, long want, cJSON **ret);
/* Append "<prefix><id><suffix>" to path, the id percent-encoded. 0 or -ENOMEM. */
int ird_cli_id_path(struct ird_buf *path, const char *prefix, const char *id, const char *suffix);
/* Append "?name=<value>" (or "&..." after the first) to q, the value
 * percent-encoded; nothing when value is NULL. 0 or -ENOMEM. */
int ird_cli_add_query(struct ird_buf *q, const char *name, const char *value);
/* Print the API's {"error","detail"} for a non-2xx answer; returns exit code 1. */
int ird_cli_api_failure(long status, const struct ird_buf *body);

/* Print cmd's usage to stderr and return 2 (for option errors). */
int ird_cli_usage_error(const struct ird_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
