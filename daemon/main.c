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
