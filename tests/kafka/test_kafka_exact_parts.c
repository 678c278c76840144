/*
 * test_kafka_exact_parts.c — exact output files with per-partition state
 * (consume --partials --checkpoint; suite kafka_exact_parts; skipped
 * without GOPE_KAFKA_BROKERS, see docs/kafka-tests.md).
 *
 * A simulator log and a few bad lines in a 3-partition topic, each
 * partition ending with a sentinel far after the log. One member consumes
 * it uninterrupted; another, in its own group, is killed with SIGKILL at 6
 * random moments (0-1 s after its assignment) and restarted, the last run left to finish (--idle-exit),
 * every run appending to one --out and one --dead-letter file. Each
 * partition has its own pipeline and reads its messages in offset order,
 * so its records and dead letters are the same bytes however the
 * partitions interleave (--idle-timeout 0: no clock follows another). The
 * killed member's files must hold exactly the uninterrupted member's lines
 * (as multisets: partitions interleave differently), each once, and one
 * summary, last: every restart cut the files back to the largest size a
 * checkpoint file saved for them (the start file included, for a crash
 * before the first checkpoint round).
 *
 * The kill delays come from GOPE_TEST_SEED when set (else the clock).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "clitest.h"
#include "kafkatest.h"
#include "mergecheck.h"
#include "spawn.h"
#include "testutil.h"

#define N_PART 3
#define N_KILLS 6

typedef struct {
    const char *brokers, *topic, *win;
    char group[128], instance[160], pspec[140], ckpt[600], out[600], dead[600], err[600];
} member;

static void member_init(member *m, tu_cli *c, const char *brokers, const char *topic,
                        const char *win, const char *name)
{
    m->brokers = brokers;
    m->topic = topic;
    m->win = win;
    snprintf(m->group, sizeof m->group, "%s-%s", topic, name);
    /* static membership: a restart takes the killed run's place at once */
    snprintf(m->instance, sizeof m->instance, "group.instance.id=%s", m->group);
    snprintf(m->pspec, sizeof m->pspec, "kafka:%s-%s-partials", topic, name);
    tk_create_topic(brokers, m->pspec + 6, 1);
    snprintf(m->ckpt, sizeof m->ckpt, "%s/%s-ckpt", c->dir, name);
    snprintf(m->out, sizeof m->out, "%s/%s.jsonl", c->dir, name);
    snprintf(m->dead, sizeof m->dead, "%s/%s.dead.jsonl", c->dir, name);
    snprintf(m->err, sizeof m->err, "%s/%s.err", c->dir, name);
}

static pid_t member_start(const member *m)
{
    const char *argv[] = {GOPE_BIN, "consume", "--brokers", m->brokers, "--topic", m->topic,
                          "--group", m->group, "--window", m->win, "--idle-timeout", "0",
                          "--idle-exit", "4s", "--partials", m->pspec, "--checkpoint", m->ckpt,
                          "--checkpoint-interval", "500ms", "--out", m->out, "--dead-letter",
                          m->dead, "-X", "session.timeout.ms=6000", "-X", m->instance, NULL};
    pid_t pid = ts_spawn(argv, NULL, m->err);
    cr_assert_gt(pid, 0);
    return pid;
}

/* Waits (bounded) for the run to end by itself at --idle-exit, exit 0. */
static void member_finish(const member *m, pid_t pid)
{
    int status = 0;
    bool ended = false;
    for (int waited = 0; waited < 120000 && !ended; waited += 100) {
        ended = waitpid(pid, &status, WNOHANG) == pid;
        if (!ended)
            ts_sleep_ms(100);
    }
    if (!ended)
        cr_assert_fail("%s did not end at --idle-exit (status of the stop: %d)", m->group,
                       ts_stop(pid, 30000));
    char *e = tu_read_file(m->err, NULL);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %d: %s", m->group,
              status, e ? e : "");
    free(e);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of `path`, sorted, but the ope_run.v1 summaries, counted in
 * *summaries (and whether the last line is one in *last). free() the array
 * and `*text`. */
static char **lines_of(const char *path, size_t *n, char **text, int *summaries, bool *last)
{
    *text = tu_read_file(path, NULL);
    cr_assert(*text, "cannot read %s", path);
    size_t cap = 1;
    for (const char *p = *text; *p; p++)
        cap += *p == '\n';
    char **v = calloc(cap, sizeof *v);
    cr_assert(v);
    *n = 0;
    *summaries = 0;
    *last = false;
    for (char *p = *text, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        *last = strstr(p, "{\"schema\":\"ope_run.v1\"") == p;
        if (*last)
            (*summaries)++;
        else
            v[(*n)++] = p;
    }
    qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

/* `got` holds `want`'s lines, each as often, and one summary, last. */
static void expect_same_lines(const char *got, const char *want, int want_summaries)
{
    size_t ng, nw;
    char *tg, *tw;
    int sg, sw;
    bool lg, lw;
    char **g = lines_of(got, &ng, &tg, &sg, &lg), **w = lines_of(want, &nw, &tw, &sw, &lw);
    cr_expect_eq(ng, nw, "%s: %zu lines, %s has %zu", got, ng, want, nw);
    size_t diff = 0;
    for (size_t i = 0; i < ng && i < nw; i++)
        diff += strcmp(g[i], w[i]) != 0;
    cr_expect_eq(diff, 0, "%s: %zu lines differ from %s's", got, diff, want);
    cr_expect_eq(sg, want_summaries, "%s: summaries", got);
    cr_expect_eq(sw, want_summaries, "%s: summaries", want);
    cr_expect(!want_summaries || lg, "%s: the summary is the last line", got);
    free(g);
    free(w);
    free(tg);
    free(tw);
}

Test(kafka_exact_parts, sigkill_restarts_leave_each_line_once, .timeout = 420)
{
    const char *brokers = tk_brokers_or_skip();
    const char *s = getenv("GOPE_TEST_SEED");
    unsigned seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL);
    printf("kafka_exact_parts: GOPE_TEST_SEED=%u\n", seed);
    char topic[96], win[32];
    tk_unique(topic, sizeof topic, "exact");
    tu_cli c;
    tu_cli_init(&c);
    char *text = tk_sim_log(&c, 4, 40000, tu_cli_path(&c, "log.jsonl"));
    double first, last;
    tm_log_span(text, &first, &last);
    snprintf(win, sizeof win, "%llds", (long long)((last - first) / 10000) + 1);
    tk_create_topic(brokers, topic, N_PART);
    cr_assert_eq(tk_produce_lines(brokers, topic, text), 40000);
    cr_assert_eq(tk_produce_lines(brokers, topic, "not json\n{\"event_id\":1}\n[]\n"), 3);
    tm_produce_sentinels(brokers, topic, N_PART, last + 1e7);
    free(text);

    member whole, killed;
    member_init(&whole, &c, brokers, topic, win, "whole");
    member_init(&killed, &c, brokers, topic, win, "killed");
    member_finish(&whole, member_start(&whole));

    int cuts = 0;
    for (int run = 0; run <= N_KILLS; run++) {
        pid_t pid = member_start(&killed);
        if (run == N_KILLS) {
            member_finish(&killed, pid);
            break;
        }
        char *e = ts_wait_for(killed.err, "assigned", 60000);
        cr_assert(e, "run %d never assigned", run);
        cuts += strstr(e, "cut back to") != NULL;
        free(e);
        long delay = rand_r(&seed) % 1000;
        ts_sleep_ms(delay);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(waitpid(pid, NULL, 0), pid);
        printf("kafka_exact_parts: run %d killed %ld ms after its assignment\n", run, delay);
    }
    printf("kafka_exact_parts: %d restarts cut an output back\n", cuts);
    expect_same_lines(killed.out, whole.out, 1);
    expect_same_lines(killed.dead, whole.dead, 0);
    cJSON *lines = tu_read_jsonl(whole.dead);
    cr_expect_eq(cJSON_GetArraySize(lines), 3, "the bad lines are dead letters");
    cJSON_Delete(lines);
    tu_cli_done(&c);
}
