/* The local commands: serve, check, version. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <getopt.h>
#include <libconfig.h>
#include <llhttp.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include <yaml.h>

#include "api/api.h"
#include "cli/cli.h"
#include "config/config.h"
#include "engine/playbook.h"
#include "intake/intake.h"
#include "serve/daemon.h"

int ird_cli_usage_error(const struct ird_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ird: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n\n", stderr);
    va_end(ap);
    fputs(cmd->usage, stderr);
    return 2;
}

/* Parse the options serve and check share. Returns -1 to continue, or an
 * exit code. */
static int parse_common(const struct ird_command *cmd, int argc, char **argv, const char **config,
                        bool *dry_run, bool *reference)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"dry-run", no_argument, NULL, 'n'},
        {"reference", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            *config = optarg;
            break;
        case 'n':
            if (!dry_run)
                return ird_cli_usage_error(cmd, "unknown option --dry-run");
            *dry_run = true;
            break;
        case 'r':
            if (!reference)
                return ird_cli_usage_error(cmd, "unknown option --reference");
            *reference = true;
            break;
        case 'h':
            fputs(cmd->usage, stdout);
            return 0;
        default:
            if (optopt)
                return ird_cli_usage_error(cmd, "unknown option -%c", optopt);
            return ird_cli_usage_error(cmd, "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return ird_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return -1;
}

int ird_cli_serve(const struct ird_command *cmd, int argc, char **argv)
{
    const char *config = NULL;
    bool dry_run = false;
    int rc = parse_common(cmd, argc, argv, &config, &dry_run, NULL);
    if (rc >= 0)
        return rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = ird_daemon_run(config, dry_run);
    curl_global_cleanup();
    return rc;
}

int ird_cli_check(const struct ird_command *cmd, int argc, char **argv)
{
    const char *config = NULL;
    bool reference = false;
    int rc = parse_common(cmd, argc, argv, &config, NULL, &reference);
    if (rc >= 0)
        return rc;
    if (reference) {
        struct ird_buf out = IRD_BUF_INIT;
        ird_config_reference(&out);
        fputs(out.data, stdout);
        ird_buf_free(&out);
        return 0;
    }
    struct ird_diags diags = {IRD_BUF_INIT, 0};
    struct ird_loaded l;
    if (ird_daemon_load(config, &l, &diags)) {
        fputs(diags.text.data ? diags.text.data : "cannot load the configuration\n", stdout);
        fprintf(stderr, "ird check: %u problem%s\n", diags.count, diags.count == 1 ? "" : "s");
        ird_diags_free(&diags);
        return 1;
    }
    printf("%s: ok (%zu playbook%s)\n", config ? config : "built-in defaults",
           ird_playbook_set_count(l.playbooks),
           ird_playbook_set_count(l.playbooks) == 1 ? "" : "s");
    ird_diags_free(&diags);
    ird_loaded_free(&l);
    return 0;
}

int ird_cli_version(const struct ird_command *cmd, int argc, char **argv)
{
    int rc = parse_common(cmd, argc, argv, &(const char *){NULL}, NULL, NULL);
    if (rc >= 0)
        return rc;
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    printf("ird %s\n", IRD_VERSION);
    printf("libuv %s\n", uv_version_string());
    printf("libcurl %s (%s%s)\n", cv->version, cv->ssl_version ? cv->ssl_version : "no TLS",
           (cv->features & CURL_VERSION_HTTP2) ? ", HTTP/2" : "");
    printf("sqlite %s\n", sqlite3_libversion());
    printf("openssl %s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("llhttp %d.%d.%d\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
    printf("cjson %s\n", cJSON_Version());
    printf("libconfig %d.%d.%d\n", LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR,
           LIBCONFIG_VER_REVISION);
    printf("libyaml %s\n", yaml_get_version_string());
    return 0;
}
