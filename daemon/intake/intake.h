/* Alert intake: the configured sources (a decoder and an authenticator
 * each), the POST /v1/alerts/<source> handler, and the store job that turns
 * alerts into incidents. A sender is answered 202 only after its alerts and
 * incidents are committed; a store failure is 503, a full intake queue 503
 * with Retry-After (Alertmanager retries 5xx only).
 *
 * Glossary: an alert's *dedup key* is the decoder's id (fingerprint, uuid,
 * sid...); an incident groups the alerts of one source and dedup key until
 * they are all resolved. The same alert sent again updates its incident. */
#ifndef IRD_INTAKE_INTAKE_H
#define IRD_INTAKE_INTAKE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <uv.h>

#include "config/config.h"
#include "net/http_server.h"
#include "store/store.h"

struct ird_intake;

/* What happened to an incident, told to the listener after the commit. */
enum ird_intake_event {
    IRD_INTAKE_OPENED,            /* a firing alert opened a new incident */
    IRD_INTAKE_FIRING,            /* a new or re-firing alert joined an open incident */
    IRD_INTAKE_RESOLVED,          /* an alert resolved */
    IRD_INTAKE_INCIDENT_RESOLVED, /* ...and with it the whole incident */
};

/* alert is the normalized alert (valid during the call only). */
typedef void (*ird_intake_listener)(enum ird_intake_event event, const char *incident_id,
                                    const cJSON *alert, void *data);

struct ird_intake *ird_intake_new(uv_loop_t *loop, struct ird_store *store);
/* Validate the sources of a config into diags (for `ird check` and reloads). */
void ird_intake_check(const struct ird_config *c, struct ird_diags *diags);
/* Build the sources and limits of c; on error the previous ones stay. */
int ird_intake_configure(struct ird_intake *in, const struct ird_config *c, struct ird_err *err);
/* POST /v1/alerts/:source. */
void ird_intake_handle(struct ird_intake *in, struct ird_http_request *req);
/* Who hears of incidents (the engine); NULL for nobody. */
void ird_intake_set_listener(struct ird_intake *in, ird_intake_listener fn, void *data);
/* Refuse new alerts (shutdown); jobs already queued still commit and answer. */
void ird_intake_stop(struct ird_intake *in);
void ird_intake_free(struct ird_intake *in);

#endif
