/*
 * test_replay_cli.c — `giftope replay` as a user runs it: exit statuses,
 * messages, stdin, several inputs, zstd faults, the accounting invariant on
 * the bad-input corpus, and the on-policy property (a policy evaluated on its
 * own logs estimates exactly the mean logged reward).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "clitest.h"
#include "testutil.h"

static const cJSON *summary(const cJSON *lines)
{
    const cJSON *s = cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1);
    cr_assert(s);
    cr_assert_str_eq(cJSON_GetObjectItem(s, "schema")->valuestring, "ope_run.v1");
    return s;
}

static void expect_accounting(const cJSON *s)
{
    cr_expect_eq(tu_num(s, "lines_read"),
                 tu_num(s, "accepted") + tu_num(s, "rejected") + tu_num(s, "late"),
                 "lines_read = accepted + rejected + late");
}

static const char *event_line(char *buf, size_t size, const char *id, long long ts, int action,
                              double prop, double reward)
{
    snprintf(buf, size,
             "{\"event_id\":\"%s\",\"ts\":%lld,\"user_id\":\"u\",\"candidates\":["
             "{\"streamer_id\":\"a\",\"ev\":1.5},{\"streamer_id\":\"b\",\"ev\":0.5}],"
             "\"action\":%d,\"propensity\":%.17g,\"reward\":%.17g}\n",
             id, ts, action, prop, reward);
    return buf;
}

Test(replay_cli, usage_errors_exit_2_with_a_clear_message)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *bad_pol = tu_cli_write(
        &c, "pol.json", "[{\"name\":\"soft\",\"select\":\"softmax\",\"temperature\":0}]");
    struct {
        const char *args[8];
        const char *needle;
    } cases[] = {
        {{"replay", NULL}, "no INPUT"},
        {{"replay", "--window", "7x", "-", NULL}, "--window"},
        {{"replay", "--window", "1h", "--slide", "7m", "-", NULL}, "multiple"},
        {{"replay", "--slide", "5m", "-", NULL}, "--slide"},
        {{"replay", "--bogus", "-", NULL}, "unknown option"},
        {{"replay", "--estimators", "snips,nope", "-", NULL}, "nope"},
        {{"replay", "--policies", bad_pol, "-", NULL}, "temperature"},
        {{"replay", "--policies", "/nonexistent/p.json", "-", NULL}, "/nonexistent/p.json"},
        {{"replay", "--window", NULL}, "needs a value"},
        {{"replay", "--threads", "3", "-", NULL}, "--threads"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        tu_cli_expect(&c, cases[i].args, 2, cases[i].needle);
    const char *help[] = {"replay", "--help", NULL};
    tu_cli_expect(&c, help, 0, NULL);
    char *text = tu_read_file(c.out, NULL);
    cr_expect(text && strstr(text, "--dead-letter") && strstr(text, "--lateness"));
    free(text);
    tu_cli_done(&c);
}

Test(replay_cli, stdin_and_several_inputs_form_one_stream)
{
    tu_cli c;
    tu_cli_init(&c);
    char line[512], a[4096] = "", b[4096] = "";
    for (int i = 0; i < 10; i++)
        strcat(a, event_line(line, sizeof line, (char[]){'a', (char)('0' + i), 0}, 1000 * i,
                             i % 2, 0.5, i));
    for (int i = 0; i < 10; i++)
        strcat(b, event_line(line, sizeof line, (char[]){'b', (char)('0' + i), 0}, 10000 + 1000 * i,
                             i % 2, 0.5, i));
    const char *in_a = tu_cli_write(&c, "a.jsonl", a), *in_b = tu_cli_write(&c, "b.jsonl", b);
    const char *args[] = {"replay", "--quiet", "--window", "5s", "--out", c.out, "-", in_b, NULL};
    cr_assert_eq(tu_run(args, NULL, in_a, NULL, c.err), 0);
    cJSON *lines = tu_read_jsonl(c.out);
    const cJSON *s = summary(lines);
    cr_expect_eq(tu_num(s, "lines_read"), 20);
    cr_expect_eq(tu_num(s, "accepted"), 20);
    cr_expect_eq(tu_num(s, "windows"), 4);
    expect_accounting(s);
    cJSON_Delete(lines);
    tu_cli_done(&c);
}

/* Compress `text` and keep only the first `keep` (0..1) of the bytes. */
static void write_zst(const char *path, const char *text, double keep)
{
    size_t cap = ZSTD_compressBound(strlen(text));
    char *z = malloc(cap);
    size_t n = ZSTD_compress(z, cap, text, strlen(text), 3);
    cr_assert(!ZSTD_isError(n));
    cr_assert(tu_write_file(path, z, (size_t)(n * keep)));
    free(z);
}

Test(replay_cli, truncated_zstd_keeps_what_came_before_and_exits_1)
{
    tu_cli c;
    tu_cli_init(&c);
    char line[512], *text = calloc(1, 1 << 20);
    for (int i = 0; i < 2000; i++) {
        char id[16];
        snprintf(id, sizeof id, "e%d", i);
        strcat(text, event_line(line, sizeof line, id, 1000 * i, i % 2, 0.5, i % 7 == 0));
    }
    const char *zst = tu_cli_path(&c, "t.jsonl.zst");
    write_zst(zst, text, 0.6); /* ends inside a later block */
    const char *args[] = {"replay", "--quiet", "--out", c.out, zst, NULL};
    int rc = tu_run(args, NULL, NULL, NULL, c.err);
    char *err = tu_read_file(c.err, NULL);
    cr_expect_eq(rc, 1, "exit %d", rc);
    cr_expect(err && strstr(err, zst) && strstr(err, "byte"), "stderr: %s", err ? err : "");
    cJSON *lines = tu_read_jsonl(c.out);
    const cJSON *s = summary(lines);
    cr_expect_gt(tu_num(s, "accepted"), 0, "lines before the fault were processed");
    cr_expect_lt(tu_num(s, "accepted"), 2000);
    expect_accounting(s);
    cJSON_Delete(lines);
    free(err);
    free(text);
    tu_cli_done(&c);
}

Test(replay_cli, missing_input_file_exits_1_and_names_it)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *args[] = {"replay", "--quiet", "--out", c.out, "/nonexistent/x.jsonl", NULL};
    cr_expect_eq(tu_run(args, NULL, NULL, NULL, c.err), 1);
    char *err = tu_read_file(c.err, NULL);
    cr_expect(err && strstr(err, "/nonexistent/x.jsonl"));
    free(err);
    tu_cli_done(&c);
}

Test(replay_cli, bad_input_corpus_is_fully_accounted_for)
{
    tu_cli c;
    tu_cli_init(&c);
    char corpus[512];
    snprintf(corpus, sizeof corpus, "%s/bad/lines.jsonl", GOPE_TEST_DATA);
    size_t len;
    char *text = tu_read_file(corpus, &len);
    cr_assert(text, "bad-input corpus present");
    size_t n_lines = 0;
    for (size_t i = 0; i < len; i++)
        n_lines += text[i] == '\n';
    const char *dead_letter = tu_cli_path(&c, "dead.jsonl");
    const char *args[] = {"replay", "--quiet", "--window", "1h", "--out", c.out,
                          "--dead-letter", dead_letter, corpus, NULL};
    cr_assert_eq(tu_run(args, NULL, NULL, NULL, c.err), 0);
    cJSON *lines = tu_read_jsonl(c.out), *dead = tu_read_jsonl(dead_letter);
    cr_assert(lines && dead, "outputs are JSON lines");
    const cJSON *s = summary(lines);
    cr_expect_eq(tu_num(s, "lines_read"), (double)n_lines);
    expect_accounting(s);
    cr_expect_eq(cJSON_GetArraySize(dead), tu_num(s, "rejected") + tu_num(s, "late"),
                 "every refused line is in the dead-letter file");
    cr_expect_gt(tu_num(s, "rejected"), 10);
    const cJSON *d;
    cJSON_ArrayForEach(d, dead)
    {
        cr_expect_str_eq(cJSON_GetObjectItem(d, "source")->valuestring, corpus);
        cr_expect_geq(tu_num(d, "line"), 1);
        cr_expect(cJSON_GetObjectItem(d, "raw") || cJSON_GetObjectItem(d, "raw_base64"));
    }
    cJSON_Delete(lines);
    cJSON_Delete(dead);
    free(text);
    tu_cli_done(&c);
}

Test(replay_cli, logging_policy_on_its_own_logs_estimates_the_mean_reward)
{
    tu_cli c;
    tu_cli_init(&c);
    /* uniform logging over 2 candidates, evaluated with the uniform policy:
     * every weight is exactly 1, so ips = snips = logged mean reward. */
    const char *pol = tu_cli_write(&c, "p.json", "[{\"name\":\"u\",\"select\":\"uniform\"}]");
    char line[512], *text = calloc(1, 1 << 16);
    double sum = 0;
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof id, "e%d", i);
        double r = (i % 13 == 0) ? 1314.0 : (i % 5 == 0 ? 2.0 : 0.0);
        sum += r;
        strcat(text, event_line(line, sizeof line, id, 1000 * i, i % 2, 0.5, r));
    }
    const char *args[] = {"replay", "--quiet", "--policies", pol, "--out", c.out,
                          tu_cli_write(&c, "l.jsonl", text), NULL};
    cr_assert_eq(tu_run(args, NULL, NULL, NULL, c.err), 0);
    cJSON *lines = tu_read_jsonl(c.out);
    const cJSON *rec = cJSON_GetArrayItem(lines, 0);
    const cJSON *est = cJSON_GetObjectItem(rec, "estimates");
    double mean = sum / 100;
    const char *names[] = {"ips", "snips", "logged", "ips_clip"};
    for (size_t i = 0; i < 4; i++)
        cr_expect(tu_close(tu_num(cJSON_GetObjectItem(est, names[i]), "value"), mean), "%s",
                  names[i]);
    cJSON_Delete(lines);
    free(text);
    tu_cli_done(&c);
}

/* The reader thread changes speed, never output: window records, summary
 * and dead letters are byte-identical with --threads 1 and 2. */
Test(replay_cli, thread_count_does_not_change_a_byte)
{
    tu_cli c;
    tu_cli_init(&c);
    char corpus[512], sample[512];
    snprintf(corpus, sizeof corpus, "%s/bad/lines.jsonl", GOPE_TEST_DATA);
    snprintf(sample, sizeof sample, "%s/../../schemas/examples/alloc.sample.jsonl.zst",
             GOPE_TEST_DATA);
    const char *dead_letter = tu_cli_path(&c, "dead.jsonl");
    char *out[2], *dead[2];
    size_t out_len[2], dead_len[2];
    for (int t = 0; t < 2; t++) {
        const char *args[] = {"replay", "--quiet", "--threads", t ? "2" : "1", "--window", "1h",
                              "--slide", "10m", "--out", c.out, "--dead-letter", dead_letter,
                              sample, corpus, sample, NULL};
        cr_assert_eq(tu_run(args, NULL, NULL, NULL, c.err), 0);
        out[t] = tu_read_file(c.out, &out_len[t]);
        dead[t] = tu_read_file(dead_letter, &dead_len[t]);
        cr_assert(out[t] && dead[t]);
    }
    cr_expect(out_len[0] > 1000 && dead_len[0] > 1000);
    cr_expect(out_len[0] == out_len[1] && memcmp(out[0], out[1], out_len[0]) == 0);
    cr_expect(dead_len[0] == dead_len[1] && memcmp(dead[0], dead[1], dead_len[0]) == 0);
    for (int t = 0; t < 2; t++) {
        free(out[t]);
        free(dead[t]);
    }
    tu_cli_done(&c);
}
