/*
 * test_kafka_prometheus.c — a real Prometheus (Debian's `prometheus`
 * package) scraping a real `giftope consume --metrics-addr` (suite
 * kafka_prometheus; needs the broker of tests/kafka/run.sh and the
 * prometheus and promtool binaries, which .ci/deps.sh installs).
 *
 * A simulator log and one bad line go into a 3-partition topic; consume
 * evaluates it with 30 s windows and --truth, so windows close while it
 * runs and the records carry verdicts, and checkpoints every second. Once the consumer's own /metrics
 * shows every message read, Prometheus (1 s scrape interval) must return
 * the same giftope_events_accepted_total through its HTTP API, and the
 * per-policy estimate, verdict and lag series must be there too. The text
 * the consumer serves must pass `promtool check metrics`. SIGTERM stops
 * both; the consumer's summary agrees with the scrape.
 *
 * The scale-out form: a `consume --partials --checkpoint` (state per
 * partition) serves its counters and lag but no per-policy series (its
 * records are partition shares), and Prometheus scraping `giftope merge
 * --metrics-addr` returns the final estimates of the merged records under
 * the same names.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clitest.h"
#include "httpclient.h"
#include "kafkatest.h"
#include "mergecheck.h"
#include "spawn.h"
#include "testutil.h"

#define WAIT_MS 60000

/* A port that was free a moment ago (Prometheus needs its port up front). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The value of the sample line "NAME VALUE" in exposition `text`, or -1. */
static double sample(const char *text, const char *name)
{
    char key[160];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

/* Prometheus' answer to an instant query: the result vector (owned by
 * *doc; NULL while Prometheus is not answering yet). */
static const cJSON *query(int port, const char *promql, cJSON **doc)
{
    char path[512];
    snprintf(path, sizeof path, "/api/v1/query?query=%s", promql);
    int status;
    char *body = th_get(port, path, &status);
    *doc = body && status == 200 ? cJSON_Parse(body) : NULL;
    free(body);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(*doc, "data");
    return cJSON_GetObjectItemCaseSensitive(data, "result");
}

/* Polls `promql` until its first sample's value is `want` (want < 0: until
 * there is a sample). @return the number of samples last seen. */
static int wait_query(int port, const char *promql, double want)
{
    for (int waited = 0; waited <= WAIT_MS; waited += 500) {
        cJSON *doc;
        const cJSON *res = query(port, promql, &doc);
        int n = cJSON_GetArraySize(res);
        const cJSON *v = cJSON_GetArrayItem(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(res, 0), "value"), 1);
        bool ok = n > 0 && (want < 0 || (cJSON_IsString(v) && atof(v->valuestring) == want));
        cJSON_Delete(doc);
        if (ok)
            return n;
        ts_sleep_ms(500);
    }
    cr_assert_fail("Prometheus never returned %s%s", promql, want < 0 ? "" : " = the count");
    return 0;
}

/* `promtool check metrics` must accept `text` (kept as NAME in c's dir). */
static void expect_lint(tu_cli *c, const char *name, const char *text)
{
    const char *path = tu_cli_path(c, name);
    cr_assert(tu_write_file(path, text, strlen(text)));
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' > '%s.lint' 2>&1", path, path);
    int lint = system(cmd);
    snprintf(cmd, sizeof cmd, "%s.lint", path);
    char *lint_text = tu_read_file(cmd, NULL);
    cr_expect_eq(lint, 0, "promtool check metrics %s: %s", name, lint_text ? lint_text : "");
    free(lint_text);
}

/* A Prometheus scraping 127.0.0.1:target every second; *port its API's. */
static pid_t start_prometheus(tu_cli *c, int target, int *port)
{
    *port = free_port();
    char conf[400];
    snprintf(conf, sizeof conf,
             "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
             "scrape_configs:\n  - job_name: giftope\n    static_configs:\n"
             "      - targets: ['127.0.0.1:%d']\n",
             target);
    char conf_arg[700], tsdb_arg[700], listen_arg[64], perr[600];
    snprintf(conf_arg, sizeof conf_arg, "--config.file=%s", tu_cli_write(c, "prom.yml", conf));
    snprintf(tsdb_arg, sizeof tsdb_arg, "--storage.tsdb.path=%s", tu_cli_path(c, "tsdb"));
    snprintf(listen_arg, sizeof listen_arg, "--web.listen-address=127.0.0.1:%d", *port);
    snprintf(perr, sizeof perr, "%s", tu_cli_path(c, "prometheus.log"));
    const char *prom[] = {"prometheus", conf_arg, tsdb_arg, listen_arg, NULL};
    pid_t pid = ts_spawn(prom, NULL, perr);
    cr_assert_gt(pid, 0);
    return pid;
}

/* The port a spawned giftope serves metrics on, from its stderr `err`. */
static int metrics_port(const char *err)
{
    char *text = ts_wait_for(err, "metrics on port ", WAIT_MS);
    cr_assert(text, "%s: never said where it serves metrics", err);
    int port = atoi(strstr(text, "metrics on port ") + 16);
    free(text);
    return port;
}

static void need_prometheus(void)
{
    cr_assert_eq(system("command -v prometheus >/dev/null && command -v promtool >/dev/null"), 0,
                 "prometheus and promtool are needed (Debian package prometheus; .ci/deps.sh)");
}

Test(kafka_prometheus, prometheus_scrapes_a_running_consumer, .timeout = 300)
{
    const char *brokers = tk_brokers_or_skip();
    need_prometheus();
    tu_cli c;
    tu_cli_init(&c);
    char topic[96], group[112];
    tk_unique(topic, sizeof topic, "prom");
    snprintf(group, sizeof group, "%s-g", topic);

    const char *world = tu_cli_write(&c, "world.json",
                                     "{\"base\":\"kuailive\",\"users\":{\"count\":500},"
                                     "\"streamers\":{\"count\":40},\"candidates\":{\"k\":10}}");
    char log[600], out[600], truth[600], ckpt[600];
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "log.jsonl"));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "consume.jsonl"));
    snprintf(ckpt, sizeof ckpt, "%s", tu_cli_path(&c, "ckpt"));
    snprintf(truth, sizeof truth, "%s/agree/truth_sample.jsonl", GOPE_TEST_DATA);
    const char *sim[] = {"sim", "--world", world, "--policy", "eps_greedy", "--decisions", "3000",
                         "--out", log, NULL};
    tu_cli_expect(&c, sim, 0, NULL);
    char *text = tu_read_file(log, NULL);
    cr_assert(text);
    tk_create_topic(brokers, topic, 3);
    int produced = tk_produce_lines(brokers, topic, text);
    produced += tk_produce_lines(brokers, topic, "not json");
    free(text);

    /* the consumer, until SIGTERM */
    char cerr[600];
    snprintf(cerr, sizeof cerr, "%s", tu_cli_path(&c, "consume.err"));
    const char *consume[] = {GOPE_BIN, "consume", "--brokers", brokers, "--topic", topic,
                             "--group", group, "--window", "30s", "--truth", truth,
                             "--checkpoint", ckpt, "--checkpoint-interval", "1s",
                             "--metrics-addr", "127.0.0.1:0", "--out", out, NULL};
    pid_t cpid = ts_spawn(consume, NULL, cerr);
    cr_assert_gt(cpid, 0);
    int mport = metrics_port(cerr);

    /* its own scrape, once it has read every message and checkpointed */
    char *scrape = NULL;
    for (int waited = 0; waited <= WAIT_MS; waited += 250) {
        int status;
        free(scrape);
        scrape = th_get(mport, "/metrics", &status);
        if (scrape && status == 200 && sample(scrape, "giftope_lines_read_total") == produced &&
            strstr(scrape, "\ngiftope_checkpoint_age_seconds "))
            break;
        ts_sleep_ms(250);
    }
    cr_assert(scrape && sample(scrape, "giftope_lines_read_total") == produced,
              "the consumer never read the %d messages", produced);
    cr_assert(strstr(scrape, "\ngiftope_checkpoint_age_seconds "), "no checkpoint age: %s",
              scrape);
    double accepted = sample(scrape, "giftope_events_accepted_total");
    cr_expect_gt(accepted, 0);
    cr_expect_eq(sample(scrape, "giftope_lines_read_total"),
                 accepted + sample(scrape, "giftope_events_late_total") +
                     sample(scrape, "giftope_events_rejected_total{reason=\"invalid_json\"}"));
    cr_expect(strstr(scrape, "\ngiftope_estimate{policy=\"greedy\",estimator=\"snips\"} "), "%s",
              scrape);
    cr_expect(strstr(scrape, "\ngiftope_agreement_verdict{policy=\"greedy\",verdict="), "%s",
              scrape);
    cr_expect(strstr(scrape, "\ngiftope_window_close_delay_seconds "), "%s", scrape);
    expect_lint(&c, "scrape.txt", scrape);
    free(scrape);

    /* Prometheus, scraping it every second */
    int pport;
    pid_t ppid = start_prometheus(&c, mport, &pport);

    wait_query(pport, "giftope_events_accepted_total", accepted);
    int n = wait_query(pport, "giftope_estimate%7Bestimator%3D%22snips%22%7D", -1);
    cr_expect_eq(n, 8, "one snips estimate per policy of the default set");
    wait_query(pport, "giftope_agreement_verdict%7Bpolicy%3D%22greedy%22%7D%3D%3D1", -1);
    n = wait_query(pport, "giftope_consumer_lag_messages", -1);
    cr_expect_eq(n, 3, "a lag per partition");
    wait_query(pport, "sum(giftope_consumer_lag_messages)", 0);
    wait_query(pport, "up%7Bjob%3D%22giftope%22%7D", 1);

    cr_expect_eq(ts_stop(ppid, 30000), 0, "prometheus did not stop cleanly");
    cr_expect_eq(ts_stop(cpid, 30000), 0, "consume did not stop cleanly; see %s", cerr);
    cJSON *lines = tu_read_jsonl(out);
    cr_assert(lines);
    const cJSON *summary = cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1);
    cr_expect_eq(tu_num(summary, "lines_read"), produced);
    cr_expect_eq(tu_num(summary, "accepted"), accepted);
    cJSON_Delete(lines);
    tu_cli_done(&c);
}

/* Occurrences of `needle` in `text`. */
static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* GET /metrics of `port` until `done(text)` holds. @return the text (free()). */
static char *scrape_until(int port, bool (*done)(const char *text, void *ctx), void *ctx)
{
    char *text = NULL;
    for (int waited = 0; waited <= WAIT_MS; waited += 250) {
        int status;
        free(text);
        text = th_get(port, "/metrics", &status);
        if (text && status == 200 && done(text, ctx))
            return text;
        ts_sleep_ms(250);
    }
    cr_assert_fail("the scrape never got there: %s", text ? text : "(no answer)");
    return NULL;
}

static bool read_all_and_checkpointed(const char *text, void *ctx)
{
    return sample(text, "giftope_lines_read_total") == *(const int *)ctx &&
           strstr(text, "\ngiftope_checkpoint_age_seconds ");
}

/* merge has taken every partial: its line count stood still over three
 * scrapes a second apart (it publishes every second) with records out. */
static bool merge_settled(const char *text, void *ctx)
{
    double *seen = ctx, lines = sample(text, "giftope_merge_lines_read_total");
    if (lines != seen[0] || sample(text, "giftope_records_emitted_total") <= 0) {
        seen[0] = lines;
        seen[1] = 0;
        return false;
    }
    ts_sleep_ms(750); /* with scrape_until's 250 ms: one publish apart */
    return ++seen[1] >= 3;
}

Test(kafka_prometheus, prometheus_scrapes_merge_of_partition_state, .timeout = 300)
{
    const char *brokers = tk_brokers_or_skip();
    need_prometheus();
    tu_cli c;
    tu_cli_init(&c);
    char topic[96], partials[112], group[112], mgroup[112], pspec[128], win[32];
    tk_unique(topic, sizeof topic, "prommerge");
    snprintf(partials, sizeof partials, "%s-partials", topic);
    snprintf(group, sizeof group, "%s-g", topic);
    snprintf(mgroup, sizeof mgroup, "%s-merge", topic);
    snprintf(pspec, sizeof pspec, "kafka:%s", partials);
    char *text = tk_sim_log(&c, 10, 3000, tu_cli_path(&c, "log.jsonl"));
    double first, last;
    tm_log_span(text, &first, &last);
    const long long win_s = (long long)((last - first) / 5000) + 1; /* about 5 windows */
    snprintf(win, sizeof win, "%llds", win_s);
    tk_create_topic(brokers, topic, 3);
    tk_create_topic(brokers, partials, 1);
    int produced = tk_produce_lines(brokers, topic, text) + 3;
    tm_produce_sentinels(brokers, topic, 3, last + 10.0 * 1000.0 * (double)win_s);
    produced += tk_produce_lines(brokers, topic, "not json");
    free(text);

    /* the member with per-partition state: counters, lag, no estimates */
    char cerr[600], out[600], ckpt[600];
    snprintf(cerr, sizeof cerr, "%s", tu_cli_path(&c, "consume.err"));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "consume.jsonl"));
    snprintf(ckpt, sizeof ckpt, "%s", tu_cli_path(&c, "ckpt"));
    const char *consume[] = {GOPE_BIN, "consume", "--brokers", brokers, "--topic", topic,
                             "--group", group, "--window", win, "--partials", pspec,
                             "--checkpoint", ckpt, "--checkpoint-interval", "1s",
                             "--metrics-addr", "127.0.0.1:0", "--out", out, NULL};
    pid_t cpid = ts_spawn(consume, NULL, cerr);
    cr_assert_gt(cpid, 0);
    char *scrape = scrape_until(metrics_port(cerr), read_all_and_checkpointed, &produced);
    cr_expect_eq(sample(scrape, "giftope_events_rejected_total{reason=\"invalid_json\"}"), 1);
    cr_expect_eq(sample(scrape, "giftope_lines_read_total"),
                 sample(scrape, "giftope_events_accepted_total") +
                     sample(scrape, "giftope_events_late_total") + 1);
    cr_expect_eq(count_of(scrape, "\ngiftope_consumer_lag_messages{"), 3, "%s", scrape);
    cr_expect(strstr(scrape, "\ngiftope_window_close_delay_seconds "), "%s", scrape);
    cr_expect(!strstr(scrape, "giftope_estimate"), "partition shares are not estimates: %s",
              scrape);
    expect_lint(&c, "consume.txt", scrape);
    free(scrape);
    cr_expect_eq(ts_stop(cpid, 30000), 0, "consume did not stop cleanly; see %s", cerr);

    /* merge as a service, scraped by Prometheus */
    char merr[600], mout[600];
    snprintf(merr, sizeof merr, "%s", tu_cli_path(&c, "merge.err"));
    snprintf(mout, sizeof mout, "%s", tu_cli_path(&c, "merge.jsonl"));
    const char *merge[] = {GOPE_BIN, "merge", "--brokers", brokers, "--topic", partials,
                           "--source-partitions", "3", "--group", mgroup, "--idle-exit", "600s",
                           "--metrics-addr", "127.0.0.1:0", "--out", mout, NULL};
    pid_t mpid = ts_spawn(merge, NULL, merr);
    cr_assert_gt(mpid, 0);
    int mport = metrics_port(merr);
    double seen[2] = {-1, 0};
    scrape = scrape_until(mport, merge_settled, seen);
    double records = sample(scrape, "giftope_records_emitted_total");
    cr_expect_eq(sample(scrape, "giftope_merge_rejected_total{reason=\"invalid_json\"}"), 0);
    cr_expect_eq(sample(scrape, "giftope_merge_open_windows"), 0,
                 "every window with partials is final (the sentinels' stayed open): %s", scrape);
    cr_expect(strstr(scrape, "\ngiftope_estimate{policy=\"greedy\",estimator=\"snips\"} "), "%s",
              scrape);
    cr_expect(strstr(scrape, "\ngiftope_window_ess{policy=\"greedy\"} "), "%s", scrape);
    expect_lint(&c, "merge.txt", scrape);
    free(scrape);

    int pport;
    pid_t ppid = start_prometheus(&c, mport, &pport);
    wait_query(pport, "giftope_records_emitted_total", records);
    int n = wait_query(pport, "giftope_estimate%7Bestimator%3D%22snips%22%7D", -1);
    cr_expect_eq(n, 8, "one final snips estimate per policy of the default set");
    wait_query(pport, "giftope_estimate_ci_high%7Bpolicy%3D%22greedy%22%7D", -1);
    cr_expect_eq(ts_stop(ppid, 30000), 0, "prometheus did not stop cleanly");
    cr_expect_eq(ts_stop(mpid, 30000), 0, "merge did not stop cleanly; see %s", merr);

    /* the scrape counted the records merge wrote */
    cJSON *ms;
    cJSON *got = tm_records_of(mout, "ope_merge_run.v1", &ms);
    cr_expect_eq(tu_num(ms, "records"), records);
    cJSON_Delete(got);
    cJSON_Delete(ms);
    tu_cli_done(&c);
}
