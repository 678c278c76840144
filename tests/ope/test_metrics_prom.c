/*
 * test_metrics_prom.c — what `consume --metrics-addr` exports
 * (ope/metrics_prom.c): every fixed series from the pipeline counters, the
 * per-policy gauges read back from records on their way to the output (and
 * the records passed on unchanged), label escaping, NaN for null estimates,
 * agreement verdicts, lag, window close delay and checkpoint age, and
 * allocation failures; partial records (no per-policy series) and merge's
 * counters. A fixed clock makes the text exact. The same text
 * goes through `promtool check metrics` in tests/kafka/test_kafka_prometheus.c,
 * where the Prometheus package is installed with the broker.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "gope_ope.h"

static double fixed_clock(void *ctx)
{
    return *(const double *)ctx;
}

/* A sink that keeps the last line written and counts lines and closes. */
typedef struct {
    char last[4096];
    int lines, closes, flushes;
} capture;

static gope_status cap_write(void *ctx, const char *key, const char *line, size_t len,
                             gope_err *err)
{
    (void)key;
    (void)err;
    capture *c = ctx;
    snprintf(c->last, sizeof c->last, "%.*s", (int)len, line);
    c->lines++;
    return GOPE_OK;
}

static gope_status cap_close(void *ctx, gope_err *err)
{
    (void)err;
    ((capture *)ctx)->closes++;
    return GOPE_OK;
}

static gope_status cap_flush(void *ctx, gope_err *err)
{
    (void)err;
    ((capture *)ctx)->flushes++;
    return GOPE_OK;
}

static const gope_sink_ops cap_ops = {
    .name = "capture", .write = cap_write, .close = cap_close, .flush = cap_flush};

typedef struct {
    double now;
    capture cap;
    gope_sink sink;
    gope_prom_t *m;
    gope_pipeline_stats stats;
} fixture;

static void setup_as(fixture *f, double now, bool partial)
{
    memset(f, 0, sizeof *f);
    f->now = now;
    f->sink = (gope_sink){.ops = &cap_ops, .ctx = &f->cap};
    gope_err err = {{0}};
    gope_prom_conf conf = {.clock = fixed_clock, .clock_ctx = &f->now, .no_estimates = partial};
    cr_assert_eq(gope_prom_new(&conf, &f->m, &err), GOPE_OK, "%s", err.msg);
    gope_prom_wrap_sink(f->m, &f->sink);
}

static void setup(fixture *f, double now)
{
    setup_as(f, now, false);
}

static void write_line(fixture *f, const char *line, gope_status want)
{
    gope_err err = {{0}};
    gope_status st = f->sink.ops->write(f->sink.ctx, "k", line, strlen(line), &err);
    cr_assert_eq(st, want, "write: %d %s", st, err.msg);
}

static const char *render(fixture *f)
{
    const char *text;
    size_t len;
    gope_err err = {{0}};
    cr_assert_eq(gope_prom_render(f->m, &f->stats, &text, &len, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(strlen(text), len);
    return text;
}

static void expect_line(const char *text, const char *line)
{
    char want[600];
    snprintf(want, sizeof want, "\n%s\n", line);
    cr_expect(strstr(text, want), "missing line: %s", line);
}

static void teardown(fixture *f)
{
    gope_err err = {{0}};
    cr_expect_eq(gope_sink_close(&f->sink, &err), GOPE_OK);
    cr_expect_eq(f->cap.closes, 1, "closing the wrapper closes the wrapped sink");
    gope_prom_free(f->m);
}

Test(metrics_prom, every_fixed_series_from_the_counters)
{
    fixture f;
    setup(&f, 1000.5);
    f.stats.lines_read = 17;
    f.stats.accepted = 10;
    f.stats.rejected = 5;
    f.stats.late = 2;
    f.stats.by_reason[GOPE_R_INVALID_JSON] = 3;
    f.stats.by_reason[GOPE_R_DUPLICATE_EVENT_ID] = 2;
    f.stats.by_reason[GOPE_R_LATE] = 2;
    f.stats.windows = 4;
    f.stats.records = 32;
    f.stats.rewards_joined = 7;
    f.stats.decisions_defaulted = 6;
    f.stats.rewards_orphaned = 1;
    f.stats.decisions_pending = 9;
    f.stats.rewards_held = 8;
    const char *t = render(&f);
    cr_expect(strncmp(t, "# HELP giftope_up ", 18) == 0, "%.40s", t);
    const char *lines[] = {
        "# TYPE giftope_up gauge", "giftope_up 1",
        "# TYPE giftope_start_time_seconds gauge", "giftope_start_time_seconds 1000.5",
        "# TYPE giftope_lines_read_total counter", "giftope_lines_read_total 17",
        "# TYPE giftope_events_accepted_total counter", "giftope_events_accepted_total 10",
        "# TYPE giftope_events_rejected_total counter",
        "giftope_events_rejected_total{reason=\"invalid_json\"} 3",
        "giftope_events_rejected_total{reason=\"duplicate_event_id\"} 2",
        "giftope_events_rejected_total{reason=\"bad_probs\"} 0",
        "# TYPE giftope_events_late_total counter", "giftope_events_late_total 2",
        "# TYPE giftope_rewards_joined_total counter", "giftope_rewards_joined_total 7",
        "# TYPE giftope_decisions_defaulted_total counter", "giftope_decisions_defaulted_total 6",
        "# TYPE giftope_rewards_orphaned_total counter", "giftope_rewards_orphaned_total 1",
        "# TYPE giftope_join_decisions_pending gauge", "giftope_join_decisions_pending 9",
        "# TYPE giftope_join_rewards_held gauge", "giftope_join_rewards_held 8",
        "# TYPE giftope_windows_emitted_total counter", "giftope_windows_emitted_total 4",
        "# TYPE giftope_records_emitted_total counter", "giftope_records_emitted_total 32",
        "# TYPE giftope_estimate gauge", "# TYPE giftope_estimate_ci_low gauge",
        "# TYPE giftope_estimate_ci_high gauge", "# TYPE giftope_window_ess gauge",
        "# TYPE giftope_window_end_timestamp_seconds gauge",
        "# TYPE giftope_consumer_lag_messages gauge",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_line(t, lines[i]);
    /* every reject reason has its series; late is not one of them */
    for (int r = GOPE_R_OK + 1; r < GOPE_R_COUNT; r++) {
        char s[128];
        snprintf(s, sizeof s, "giftope_events_rejected_total{reason=\"%s\"} ",
                 gope_reason_name((gope_reason)r));
        cr_expect_eq(strstr(t, s) != NULL, r != GOPE_R_LATE, "%s", s);
    }
    /* nothing seen yet: no verdicts, no close delay, no checkpoint age */
    cr_expect_null(strstr(t, "giftope_agreement_verdict"));
    cr_expect_null(strstr(t, "giftope_window_close_delay_seconds"));
    cr_expect_null(strstr(t, "giftope_checkpoint_age_seconds"));
    cr_expect(t[strlen(t) - 1] == '\n');
    teardown(&f);
}

static const char record[] =
    "{\"schema\":\"ope_metrics.v1\",\"window\":{\"start\":1735689600000,\"end\":1735693200000},"
    "\"policy\":\"ucb\",\"n\":703,\"estimates\":{\"snips\":{\"value\":0.25,\"stderr\":0.1,"
    "\"ci_low\":-0.125,\"ci_high\":0.5},\"dr\":{\"value\":null,\"stderr\":null,\"ci_low\":null,"
    "\"ci_high\":null}},\"diagnostics\":{\"n\":703,\"ess\":226.5},\"warnings\":[],"
    "\"agreement\":{\"verdict\":\"review\",\"reasons\":[]}}";

Test(metrics_prom, records_become_the_policy_gauges_and_pass_unchanged)
{
    fixture f;
    setup(&f, 1735693205.25);
    cr_expect_not(gope_prom_changed(f.m));
    write_line(&f, record, GOPE_OK);
    cr_expect_str_eq(f.cap.last, record);
    cr_expect(gope_prom_changed(f.m));
    const char *t = render(&f);
    cr_expect_not(gope_prom_changed(f.m), "rendered: nothing new");
    const char *lines[] = {
        "giftope_estimate{policy=\"ucb\",estimator=\"snips\"} 0.25",
        "giftope_estimate_ci_low{policy=\"ucb\",estimator=\"snips\"} -0.125",
        "giftope_estimate_ci_high{policy=\"ucb\",estimator=\"snips\"} 0.5",
        "giftope_estimate{policy=\"ucb\",estimator=\"dr\"} NaN",
        "giftope_estimate_ci_low{policy=\"ucb\",estimator=\"dr\"} NaN",
        "giftope_window_ess{policy=\"ucb\"} 226.5",
        "giftope_window_events{policy=\"ucb\"} 703",
        "giftope_window_end_timestamp_seconds{policy=\"ucb\"} 1735693200",
        "giftope_agreement_verdict{policy=\"ucb\",verdict=\"baseline\"} 0",
        "giftope_agreement_verdict{policy=\"ucb\",verdict=\"launch\"} 0",
        "giftope_agreement_verdict{policy=\"ucb\",verdict=\"review\"} 1",
        "giftope_agreement_verdict{policy=\"ucb\",verdict=\"block\"} 0",
        "giftope_window_close_delay_seconds 5.25",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_line(t, lines[i]);

    /* the summary passes and changes nothing; the next window replaces this one */
    const char summary[] = "{\"schema\":\"ope_run.v1\",\"lines_read\":1}";
    write_line(&f, summary, GOPE_OK);
    cr_expect_str_eq(f.cap.last, summary);
    cr_expect_not(gope_prom_changed(f.m));
    char next[sizeof record + 16];
    snprintf(next, sizeof next, "%s", record);
    memcpy(strstr(next, "0.25"), "0.75", 4);
    memcpy(strstr(next, "\"review\""), "\"launch\"", 8);
    memcpy(strstr(next, "1735693200000"), "1735696800000", 13);
    f.now = 1735696800.0 + 60;
    write_line(&f, next, GOPE_OK);
    gope_err err = {{0}};
    cr_expect_eq(gope_sink_flush(&f.sink, &err), GOPE_OK);
    cr_expect_eq(f.cap.flushes, 1, "flushing the wrapper flushes the wrapped sink");
    t = render(&f);
    expect_line(t, "giftope_estimate{policy=\"ucb\",estimator=\"snips\"} 0.75");
    expect_line(t, "giftope_agreement_verdict{policy=\"ucb\",verdict=\"launch\"} 1");
    expect_line(t, "giftope_agreement_verdict{policy=\"ucb\",verdict=\"review\"} 0");
    expect_line(t, "giftope_window_end_timestamp_seconds{policy=\"ucb\"} 1735696800");
    expect_line(t, "giftope_window_close_delay_seconds 60");
    cr_expect_null(strstr(strstr(t, "snips\"} 0.75"), "snips\"} 0.25"), "one series per policy");
    cr_expect_eq(f.cap.lines, 3);
    teardown(&f);
}

Test(metrics_prom, label_values_are_escaped)
{
    fixture f;
    setup(&f, 0);
    /* policy a"b\c<newline>d, estimator x\y (as JSON: a\"b\\c\nd, x\\y) */
    const char line[] = "{\"schema\":\"ope_metrics.v1\",\"window\":{\"start\":0,\"end\":1000},"
                        "\"policy\":\"a\\\"b\\\\c\\nd\",\"n\":1,\"estimates\":{\"x\\\\y\":"
                        "{\"value\":1e300,\"ci_low\":-1.5e-300,\"ci_high\":2}},"
                        "\"diagnostics\":{\"ess\":null}}";
    write_line(&f, line, GOPE_OK);
    const char *t = render(&f);
    expect_line(t, "giftope_estimate{policy=\"a\\\"b\\\\c\\nd\",estimator=\"x\\\\y\"} 1e+300");
    expect_line(t, "giftope_estimate_ci_low{policy=\"a\\\"b\\\\c\\nd\",estimator=\"x\\\\y\"} "
                   "-1.5e-300");
    expect_line(t, "giftope_window_ess{policy=\"a\\\"b\\\\c\\nd\"} NaN");
    cr_expect_null(strstr(t, "giftope_agreement_verdict"), "no agreement block: no verdicts");
    teardown(&f);
}

Test(metrics_prom, a_record_that_cannot_be_read_fails_the_write)
{
    fixture f;
    setup(&f, 0);
    const struct {
        const char *line, *field;
    } bad[] = {
        {"{\"schema\":\"ope_metrics.v1\",\"window\":{\"end\":1},\"estimates\":{}}", "policy"},
        {"{\"schema\":\"ope_metrics.v1\",\"policy\":\"p\",\"estimates\":{}}", "window.end"},
        {"{\"schema\":\"ope_metrics.v1\",\"policy\":\"p\",\"window\":{\"end\":1}}", "estimates"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gope_err err = {{0}};
        cr_expect_eq(f.sink.ops->write(f.sink.ctx, "k", bad[i].line, strlen(bad[i].line), &err),
                     GOPE_ERR_INPUT);
        cr_expect(strstr(err.msg, bad[i].field), "%s: %s", bad[i].field, err.msg);
    }
    cr_expect_eq(f.cap.lines, 0, "nothing passed on");
    teardown(&f);
}

Test(metrics_prom, lag_and_checkpoint_age)
{
    fixture f;
    setup(&f, 100);
    gope_err err = {{0}};
    cr_assert_eq(gope_prom_lag_set(f.m, "alloc", 0, 12, &err), GOPE_OK);
    cr_assert_eq(gope_prom_lag_set(f.m, "al\"loc", 5, 0, &err), GOPE_OK);
    gope_prom_checkpoint_done(f.m);
    f.now = 130.5;
    const char *t = render(&f);
    expect_line(t, "giftope_consumer_lag_messages{topic=\"alloc\",partition=\"0\"} 12");
    expect_line(t, "giftope_consumer_lag_messages{topic=\"al\\\"loc\",partition=\"5\"} 0");
    expect_line(t, "# TYPE giftope_checkpoint_age_seconds gauge");
    expect_line(t, "giftope_checkpoint_age_seconds 30.5");
    gope_prom_lag_clear(f.m); /* a rebalance took the partitions away */
    cr_assert_eq(gope_prom_lag_set(f.m, "alloc", 1, 3, &err), GOPE_OK);
    t = render(&f);
    cr_expect_null(strstr(t, "partition=\"0\""));
    cr_expect_null(strstr(t, "partition=\"5\""));
    expect_line(t, "giftope_consumer_lag_messages{topic=\"alloc\",partition=\"1\"} 3");
    teardown(&f);
}

static gope_status op_metrics(void)
{
    double now = 5;
    capture cap = {0};
    gope_sink sink = {.ops = &cap_ops, .ctx = &cap};
    gope_prom_t *m = NULL;
    gope_err err = {{0}};
    gope_prom_conf conf = {.clock = fixed_clock, .clock_ctx = &now};
    gope_status st = gope_prom_new(&conf, &m, &err);
    if (st != GOPE_OK)
        return st;
    gope_prom_wrap_sink(m, &sink);
    gope_pipeline_stats stats = {.lines_read = 1};
    const char *text;
    size_t len;
    for (int i = 0; st == GOPE_OK && i < 20; i++) /* enough to grow every array */
        st = gope_prom_lag_set(m, "t", i, i, &err);
    if (st == GOPE_OK)
        st = sink.ops->write(sink.ctx, "k", record, strlen(record), &err);
    if (st == GOPE_OK)
        st = gope_prom_render(m, &stats, &text, &len, &err);
    gope_prom_merge_stats ms = {.records = 1};
    if (st == GOPE_OK)
        st = gope_prom_render_merge(m, &ms, &text, &len, &err);
    gope_sink_close(&sink, &err);
    gope_prom_free(m);
    return st;
}

Test(metrics_prom, allocation_failures) { fa_exhaust(op_metrics, "metrics"); }

Test(metrics_prom, partial_records_time_the_close_delay_only)
{
    fixture f;
    setup_as(&f, 1735693210.0, true);
    write_line(&f, record, GOPE_OK);
    cr_expect_str_eq(f.cap.last, record, "the record passes unchanged");
    cr_expect(gope_prom_changed(f.m));
    f.stats.lines_read = 9;
    const char *t = render(&f);
    expect_line(t, "giftope_window_close_delay_seconds 10");
    expect_line(t, "giftope_lines_read_total 9");
    cr_expect_null(strstr(t, "giftope_estimate"), "%s", t);
    cr_expect_null(strstr(t, "giftope_window_ess"), "%s", t);
    cr_expect_null(strstr(t, "giftope_agreement_verdict"), "%s", t);
    teardown(&f);
}

Test(metrics_prom, merge_counters_and_the_final_records_gauges)
{
    fixture f;
    setup(&f, 1735693300.0);
    write_line(&f, record, GOPE_OK);
    const char *const reasons[] = {"invalid_json", "after_final"};
    const uint64_t rejected[] = {2, 0};
    gope_prom_merge_stats ms = {.lines_read = 40, .window_partials = 30,
                                .duplicate_partials = 3, .progress_lines = 5, .records = 8,
                                .reason_names = reasons, .rejected = rejected, .n_reasons = 2,
                                .open_windows = 4};
    const char *t;
    size_t len;
    gope_err err = {{0}};
    cr_assert_eq(gope_prom_render_merge(f.m, &ms, &t, &len, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(strlen(t), len);
    const char *lines[] = {
        "giftope_up 1",
        "giftope_merge_lines_read_total 40",
        "giftope_merge_window_partials_total 30",
        "giftope_merge_duplicate_partials_total 3",
        "giftope_merge_progress_lines_total 5",
        "giftope_records_emitted_total 8",
        "giftope_merge_rejected_total{reason=\"invalid_json\"} 2",
        "giftope_merge_rejected_total{reason=\"after_final\"} 0",
        "giftope_merge_open_windows 4",
        "# TYPE giftope_merge_open_windows gauge",
        "# TYPE giftope_merge_rejected_total counter",
        "giftope_estimate{policy=\"ucb\",estimator=\"snips\"} 0.25",
        "giftope_window_ess{policy=\"ucb\"} 226.5",
        "giftope_window_close_delay_seconds 100",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_line(t, lines[i]);
    cr_expect_null(strstr(t, "giftope_events_accepted_total"), "no pipeline counters: %s", t);
    teardown(&f);
}
