/* ird: argv -> the command table. Nothing else lives here. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct ird_command commands[] = {
    {"serve", "run the daemon",
     "usage: ird serve [-c FILE] [--dry-run]\n"
     "\n"
     "Run the incident-response daemon in the foreground, logging to stderr.\n"
     "  -c, --config FILE  configuration file (default: the built-in defaults)\n"
     "      --dry-run      record mutating actions instead of making them,\n"
     "                     whatever the configuration says\n"
     "Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT stop gracefully.\n",
     ird_cli_serve},
    {"check", "validate the configuration",
     "usage: ird check [-c FILE] [--reference]\n"
     "\n"
     "Validate a configuration file and everything it names. Prints one\n"
     "file:line: message line per problem and exits 1 if there is any.\n"
     "  -c, --config FILE  configuration file (default: the built-in defaults)\n"
     "      --reference    print the configuration key table as Markdown\n",
     ird_cli_check},
    {"incidents", "list incidents (client)",
     "usage: ird incidents [--state S] [--source S] [--namespace N] [--severity S]\n"
     "                     [--limit N] [-o table|json] [--url URL] [--token TOKEN]\n"
     "\n"
     "List incidents, newest first, from a running daemon's operator API.\n"
     "  --url URL      the api listener (default $IRD_URL, else http://127.0.0.1:9411)\n"
     "  --token TOKEN  a bearer token from api.tokens (default $IRD_TOKEN)\n"
     "  -o FORMAT      table (default) or json\n",
     ird_cli_incidents},
    {"incident", "show one incident (client)",
     "usage: ird incident ID [-o table|json] [--url URL] [--token TOKEN]\n"
     "\n"
     "Show an incident with its alerts and timeline.\n"
     "  --url URL      the api listener (default $IRD_URL, else http://127.0.0.1:9411)\n"
     "  --token TOKEN  a bearer token from api.tokens (default $IRD_TOKEN)\n"
     "  -o FORMAT      table (default) or json\n",
     ird_cli_incident},
    {"ack", "acknowledge an incident (client)",
     "usage: ird ack ID [-o json] [--url URL] [--token TOKEN]\n"
     "\n"
     "Acknowledge a triggered incident: someone is on it (responder role).\n"
     "  --url URL      the api listener (default $IRD_URL, else http://127.0.0.1:9411)\n"
     "  --token TOKEN  a bearer token from api.tokens (default $IRD_TOKEN)\n",
     ird_cli_ack},
    {"resolve", "resolve an incident (client)",
     "usage: ird resolve ID [-o json] [--url URL] [--token TOKEN]\n"
     "\n"
     "Resolve an incident by hand (responder role); the playbooks that ran for\n"
     "it run their on_resolve steps.\n"
     "  --url URL      the api listener (default $IRD_URL, else http://127.0.0.1:9411)\n"
     "  --token TOKEN  a bearer token from api.tokens (default $IRD_TOKEN)\n",
     ird_cli_resolve},
    {"runs", "list playbook runs (client)",
     "usage: ird runs [--state S] [--playbook P] [--incident I] [--limit N] [-o table|json]\n"
     "                [--url URL] [--token TOKEN]\n"
     "\n"
     "List playbook runs, newest first, from a running daemon's operator API.\n"
     "  --state S      running, waiting_approval, blocked, succeeded, failed or cancelled\n"
     "  --playbook P   runs of one playbook\n"
     "  --incident I   runs for one incident\n"
     "  --limit N      at most N runs, 1 to 500 (default 50)\n"
     "  --url URL      the api listener (default $IRD_URL, else http://127.0.0.1:9411)\n"
     "  --token TOKEN  a bearer token from api.tokens (default $IRD_TOKEN)\n"
     "  -o FORMAT      table (default) or json\n",
     ird_cli_runs},
    {"run", "show one run and its steps (client)",
     "usage: ird run ID [-o table|json] [--url URL] [--token TOKEN]\n"
     "\n"
     "Show a run: its state, target and parameters, and every step with its\n"
     "state, attempts and error (and, in dry-run, the calls it planned).\n"
     "  --url URL      the api listener (default $IRD_URL, else http://127.0.0.1:9411)\n"
     "  --token TOKEN  a bearer token from api.tokens (default $IRD_TOKEN)\n"
     "  -o FORMAT      table (default) or json\n",
     ird_cli_run},
    {"trigger", "run a playbook now (client)",
     "usage: ird trigger PLAYBOOK [-p key=value]... [--incident ID] [--dry-run] [-o json]\n"
     "                   [--url URL] [--token TOKEN]\n"
     "\n"
     "Ask the running daemon to run a playbook now, and print the new run's id.\n"
     "Needs a responder token.\n"
     "  -p, --param key=value  a parameter the playbook declares (repeat for more)\n"
     "  --incident ID  run it for this incident (its alert fills ${alert.*})\n"
     "  --dry-run      record mutating steps as planned calls instead of making them\n"
     "  --url URL      the api listener (default $IRD_URL, else http://127.0.0.1:9411)\n"
     "  --token TOKEN  a bearer token from api.tokens (default $IRD_TOKEN)\n"
     "  -o FORMAT      table (default: the run id) or json (the API's answer)\n",
     ird_cli_trigger},
    {"approve", "approve the step a run waits on (client)",
     "usage: ird approve RUN [STEP] [--force] [--url URL] [--token TOKEN]\n"
     "\n"
     "Approve the step a run waits on (approve mode); with STEP, only if that is\n"
     "the step it waits on. Needs a responder token.\n"
     "  --force        let a step a guard blocked go ahead (admin token; audited)\n"
     "  --url URL      the api listener (default $IRD_URL, else http://127.0.0.1:9411)\n"
     "  --token TOKEN  a bearer token from api.tokens (default $IRD_TOKEN)\n",
     ird_cli_approve},
    {"cancel", "cancel a run (client)",
     "usage: ird cancel RUN [--url URL] [--token TOKEN]\n"
     "\n"
     "Cancel a run: a step in flight finishes first, later steps do not run.\n"
     "Needs a responder token.\n"
     "  --url URL      the api listener (default $IRD_URL, else http://127.0.0.1:9411)\n"
     "  --token TOKEN  a bearer token from api.tokens (default $IRD_TOKEN)\n",
     ird_cli_cancel},
    {"audit", "the audit trail (client), and its hash-chain check",
     "usage: ird audit [--since T] [--kind K] [--after SEQ] [--limit N] [-o table|json]\n"
     "                 [--url URL] [--token TOKEN]\n"
     "       ird audit verify [-c FILE | --db PATH]\n"
     "\n"
     "List the audit trail, oldest first, from a running daemon's operator API.\n"
     "  --since T      only records at or after T: an RFC 3339 time or a duration\n"
     "                 back from now (30m, 1h, 7d)\n"
     "  --kind K       one kind (incident.opened) or a family (incident)\n"
     "  --after SEQ    only records after seq SEQ (a next_after value)\n"
     "  --limit N      at most N records, 1 to 1000 (default: all, page by page)\n"
     "  --url URL      the api listener (default $IRD_URL, else http://127.0.0.1:9411)\n"
     "  --token TOKEN  a bearer token from api.tokens (default $IRD_TOKEN)\n"
     "  -o FORMAT      table (default) or json\n"
     "\n"
     "verify: check the hash chain in state_dir/ird.db, read-only (works while the\n"
     "daemon runs). Prints 'audit trail intact: N records' and exits 0, or names\n"
     "the first broken record and exits 1.\n"
     "  -c, --config FILE  take state_dir from this configuration\n"
     "      --db PATH      check this database file instead\n",
     ird_cli_audit},
    {"version", "print versions",
     "usage: ird version\n"
     "\n"
     "Print ird's version and the versions of the libraries linked in.\n",
     ird_cli_version},
};

static void usage(FILE *out)
{
    fputs("usage: ird COMMAND [OPTIONS]\n\ncommands:\n", out);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRun 'ird COMMAND --help' for a command's options.\n", out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        argv[1] = "version";
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(&commands[i], argc - 1, argv + 1);
    fprintf(stderr, "ird: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
