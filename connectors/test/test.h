/* The test connector: actions that succeed, fail, flake and sleep on a real
 * libuv loop, so the engine, the runtime tests and the example playbooks can
 * exercise runs without touching any outside system. See test.c for the
 * actions and their parameters. */
#ifndef IRD_CONNECTORS_TEST_TEST_H
#define IRD_CONNECTORS_TEST_TEST_H

#include "connector.h"

extern const struct ird_connector_ops ird_connector_test;

/* How many times action ("succeed", "fail", "flaky", "sleep"; the verb, or
 * "test.<verb>") was started in this process since the last reset; 0 for an
 * unknown action. */
unsigned ird_test_connector_calls(const char *action);

/* Zero the call counters and forget the flaky counts (tests call this between
 * cases). Must not be called with a test call in flight. */
void ird_test_connector_reset(void);

#endif
