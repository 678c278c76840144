/* reason.c — the stable names of reject reasons and shadow-price constraints.
 * These strings are an output format: dead-letter records, run summaries and
 * metrics carry them, so they never change once released. */
#include "gope_ingest.h"

static const char *const reason_names[GOPE_R_COUNT] = {
    [GOPE_R_OK] = "ok",
    [GOPE_R_INVALID_JSON] = "invalid_json",
    [GOPE_R_LINE_TOO_LONG] = "line_too_long",
    [GOPE_R_NOT_OBJECT] = "not_object",
    [GOPE_R_UNKNOWN_SCHEMA] = "unknown_schema",
    [GOPE_R_MISSING_FIELD] = "missing_field",
    [GOPE_R_WRONG_TYPE] = "wrong_type",
    [GOPE_R_BAD_EVENT_ID] = "bad_event_id",
    [GOPE_R_BAD_TS] = "bad_ts",
    [GOPE_R_BAD_CANDIDATES] = "bad_candidates",
    [GOPE_R_BAD_EV] = "bad_ev",
    [GOPE_R_BAD_CANDIDATE_FIELD] = "bad_candidate_field",
    [GOPE_R_ACTION_OUT_OF_RANGE] = "action_out_of_range",
    [GOPE_R_BAD_PROPENSITY] = "bad_propensity",
    [GOPE_R_BAD_REWARD] = "bad_reward",
    [GOPE_R_BAD_PROBS] = "bad_probs",
    [GOPE_R_BAD_FIELD_VALUE] = "bad_field_value",
    [GOPE_R_DUPLICATE_EVENT_ID] = "duplicate_event_id",
    [GOPE_R_LATE] = "late",
    [GOPE_R_ORPHAN_REWARD] = "orphan_reward",
};

const char *gope_reason_name(gope_reason r)
{
    return (r >= 0 && r < GOPE_R_COUNT) ? reason_names[r] : "unknown";
}

static const char *const constraint_names[GOPE_C_COUNT] = {
    [GOPE_C_CAPACITY] = "capacity",
    [GOPE_C_COLDSTART] = "coldstart",
    [GOPE_C_HEAD] = "head",
    [GOPE_C_WHALE] = "whale",
};

const char *gope_constraint_name(gope_constraint c)
{
    return (c >= 0 && c < GOPE_C_COUNT) ? constraint_names[c] : "unknown";
}
