/*
 * policy_default.c — the built-in policy set, used when no --policies file is
 * given. It is kept as policies.v1 JSON text and goes through the same parser
 * as a user's file, so the default can never drift from the file format, and
 * `gope_policies_default_json()` doubles as a starting point to copy and edit.
 * The set covers the roadmap: the plain ranker, optimism and pessimism under
 * uncertainty, stochastic rules, crowding, cold-start exploration and the
 * logged shadow prices. docs/policies.md and README.md document this table.
 */
#include "policy_int.h"

static const char default_json[] =
    "[\n"
    "  {\"name\": \"greedy\", \"select\": \"greedy\",\n"
    "   \"description\": \"top predicted ev (ties split evenly)\"},\n"
    "  {\"name\": \"ucb\", \"select\": \"greedy\", \"beta\": 1,\n"
    "   \"description\": \"optimistic: top ev + sigma\"},\n"
    "  {\"name\": \"lcb\", \"select\": \"greedy\", \"beta\": -1,\n"
    "   \"description\": \"pessimistic: top ev - sigma\"},\n"
    "  {\"name\": \"softmax\", \"select\": \"softmax\", \"temperature\": 0.5,\n"
    "   \"description\": \"Boltzmann over ev, temperature 0.5\"},\n"
    "  {\"name\": \"eps_greedy\", \"select\": \"epsilon_greedy\", \"epsilon\": 0.1,\n"
    "   \"description\": \"greedy, 10% spread uniformly\"},\n"
    "  {\"name\": \"crowding\", \"select\": \"greedy\",\n"
    "   \"crowding_alpha\": 1, \"crowding_threshold\": 0.8,\n"
    "   \"description\": \"ev discounted in rooms above 80% of capacity\"},\n"
    "  {\"name\": \"coldstart\", \"select\": \"epsilon_greedy\", \"epsilon\": 0.1,\n"
    "   \"coldstart_bonus\": 0.5,\n"
    "   \"description\": \"epsilon-greedy with +0.5 for cold-start streamers\"},\n"
    "  {\"name\": \"shadow_log\", \"select\": \"greedy\", \"lambda\": \"log\",\n"
    "   \"description\": \"greedy on ev minus the logged shadow prices\"}\n"
    "]\n";

const char *gope_policies_default_json(void)
{
    return default_json;
}

gope_status gope_policies_default(gope_policy_set_t **out, gope_err *err)
{
    return gope_policies_parse(default_json, sizeof default_json - 1, "built-in policies",
                               out, err);
}
