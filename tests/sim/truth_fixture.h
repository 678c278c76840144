/*
 * truth_fixture.h — shared helpers of the simulator-truth tests
 * (tests/sim/test_truth*.c, tests/e2e/test_truth_cli.c; the helpers are in
 * test_truth_fixture.c): small worlds, policy sets, a temporary directory,
 * a direct engine run, a whole truth run into a file, and reading its JSON
 * lines back (look into them with tu_get / tu_num of testutil.h).
 * Every helper asserts (Criterion) instead of returning errors.
 */
#ifndef GOPE_TRUTH_FIXTURE_H
#define GOPE_TRUTH_FIXTURE_H

#include <cjson/cJSON.h>

#include "truth.h"

/* Two hand-made decisions; greedy picks the top ev, uniform averages:
 * greedy 3 then 2 (V_static 2.5), uniform 1.75 then 3 (V_static 2.375). */
#define TRF_LINE_1                                                                             \
    "{\"event_id\":\"e1\",\"ts\":1000,\"user_id\":\"u1\",\"candidates\":["                     \
    "{\"streamer_id\":\"a\",\"ev\":1,\"true_ev\":0.5},"                                        \
    "{\"streamer_id\":\"b\",\"ev\":2,\"true_ev\":3}],"                                         \
    "\"action\":1,\"propensity\":0.5,\"reward\":0,\"probs\":[0.5,0.5],"                        \
    "\"logging_policy\":\"uniform\"}\n"
/* the second line, with `b_tev` as the second candidate's true_ev field */
#define TRF_LINE_2_WITH(b_tev)                                                                 \
    "{\"event_id\":\"e2\",\"ts\":2000,\"user_id\":\"u2\",\"candidates\":["                     \
    "{\"streamer_id\":\"a\",\"ev\":3,\"true_ev\":2},"                                          \
    "{\"streamer_id\":\"b\",\"ev\":1," b_tev "}],"                                             \
    "\"action\":0,\"propensity\":0.5,\"reward\":2,\"probs\":[0.5,0.5]}\n"
#define TRF_LINE_2 TRF_LINE_2_WITH("\"true_ev\":4")
#define TRF_POLICIES                                                                           \
    "[{\"name\":\"greedy\",\"select\":\"greedy\"},{\"name\":\"uniform\",\"select\":\"uniform\"}]"

/* giftlive-v2 with `users` users, `streamers` streamers, rounds of `round`. */
gope_world_conf trf_world(uint32_t users, uint32_t streamers, uint32_t round);

/* A policies.v1 set from `json`, or the default set when NULL. */
gope_policy_set_t *trf_policies(const char *json);

/* Index of policy `name` in `set`. */
size_t trf_policy_index(const gope_policy_set_t *set, const char *name);

/* A temporary directory, made on first use; `path` is the last name made. */
typedef struct {
    char *dir;
    char path[512];
} trf_tmp;

/* dir/name (into f->path, so valid until the next call). */
const char *trf_path(trf_tmp *f, const char *name);

/* Writes `text` to dir/name. @return its path (f->path). */
const char *trf_write(trf_tmp *f, const char *name, const char *text);

/* One run of `spec` (gope_sim_allocator_new: a policy of `set` or an
 * allocator) on the world of `wc` and `seed`, outside the truth code: its
 * summary and metrics. */
typedef struct {
    gope_sim_summary sum;
    gope_sim_metrics m;
} trf_direct;

trf_direct trf_run_direct(const gope_world_conf *wc, uint64_t seed, const gope_policy_set_t *set,
                          const char *spec, uint64_t decisions);

/* A log at `path` of seeds 3 and 4, 250 decisions each, by `spec`
 * (gope_sim_allocator_new); every step also goes to `also` (when not NULL)
 * with `ctx`. @return the mean of the runs' v_static over the 500
 * decisions. */
double trf_sim_log(const gope_world_conf *wc, const gope_policy_set_t *set, const char *spec,
                   const char *path, gope_sim_step_fn also, void *ctx);

/* |got - want| <= 1e-12 max(|got|, |want|). */
bool trf_close12(double got, double want);

/* new, [static on `log`,] online, write to `out`, free; *lines (when not
 * NULL) gets gope_simtruth_lines(). @return the first failure (for
 * allocation-failure tests), with its message in err. */
gope_status trf_make_truth(const gope_simtruth_conf *c, const char *log, const char *out,
                           size_t *lines, gope_err *err);

/* trf_make_truth for allocation-failure tests (fa_exhaust): a tiny world
 * (40 users, 6 streamers), TRF_POLICIES, the `logging` spec and the
 * allocators, `seeds` seeds of 12 decisions on `jobs` threads, V_static on
 * dir/log.jsonl, output to dir/truth.jsonl. @return its status; an
 * out-of-memory failure must say so (cr_expect). */
gope_status trf_oom_truth(const char *dir, const char *logging, uint64_t seeds,
                          const char *const *allocators, size_t n_allocators, unsigned jobs);

/* trf_make_truth into dir/truth.jsonl, asserting success, and its lines
 * (a truth.v1 line each, then the run line); cJSON_Delete() them. */
cJSON *trf_truth_lines(const gope_simtruth_conf *c, const char *log, trf_tmp *f);

/* The truth.v1 line of `policy` among `lines` (asserted present). */
const cJSON *trf_line_of(const cJSON *lines, const char *policy);

#endif
