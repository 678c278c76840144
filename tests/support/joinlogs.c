/*
 * joinlogs.c — the reward-join tests' logs (joinlogs.h).
 */
#include "joinlogs.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tj_decision(char *buf, size_t size, const char *prefix, int i, long long ts,
                bool with_reward)
{
    char reward[48] = "";
    if (with_reward)
        snprintf(reward, sizeof reward, ",\"reward\":%.17g", (i % 9) * 0.375);
    return snprintf(buf, size,
                    "{\"event_id\":\"%s-%d\",\"ts\":%lld,\"user_id\":\"u%d\",\"candidates\":["
                    "{\"streamer_id\":\"a\",\"ev\":%.17g,\"sigma\":0.5},{\"streamer_id\":\"b\","
                    "\"ev\":%.17g},{\"streamer_id\":\"c\",\"ev\":0.75}],\"action\":%d,"
                    "\"propensity\":%.17g%s}\n",
                    prefix, i, ts, i % 17, 1 + (i % 5) * 0.25, 2 - (i % 3) * 0.5, i % 3,
                    i % 3 == 0 ? 0.5 : 0.25, reward);
}

typedef struct {
    long long ts;
    int order; /* decisions before rewards at the same ts */
    char line[512];
} timed;

static int by_ts(const void *a, const void *b)
{
    const timed *x = a, *y = b;
    if (x->ts != y->ts)
        return (x->ts > y->ts) - (x->ts < y->ts);
    return (x->order > y->order) - (x->order < y->order);
}

void tj_append(char **buf, size_t *len, size_t *cap, const char *line)
{
    size_t n = strlen(line);
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
        cr_assert(*buf);
    }
    memcpy(*buf + *len, line, n + 1);
    *len += n;
}

void tj_make_logs(tj_logs *l)
{
    timed *all = calloc(3 * TJ_N_DEC, sizeof *all);
    cr_assert(all);
    size_t n = 0;
    for (int i = 0; i < TJ_N_DEC; i++) {
        long long ts = TJ_T0 + 100LL * i;
        all[n].ts = ts;
        tj_decision(all[n++].line, sizeof all->line, "d", i, ts, i % 10 == 0);
        int parts = i % 10 == 0 ? 0 : i % 4 == 1 ? 1 : i % 8 == 3 ? 2 : 0;
        double amount = 1 + (i % 23) * 0.125;
        for (int k = 0; k < parts; k++) {
            all[n].ts = ts + 1000 + (i % 13) * 1000 + 19000LL * k;
            all[n].order = 1;
            snprintf(all[n].line, sizeof all->line,
                     "{\"schema\":\"reward.v1\",\"event_id\":\"d-%d\",\"ts\":%lld,\"reward\":%.17g}\n",
                     i, all[n].ts, amount / parts);
            n++;
        }
        if (i % 97 == 50) { /* no decision has this id */
            all[n].ts = ts + 500;
            all[n].order = 1;
            snprintf(all[n].line, sizeof all->line,
                     "{\"schema\":\"reward.v1\",\"event_id\":\"orphan-%d\",\"ts\":%lld,"
                     "\"reward\":2.5}\n", i, all[n].ts);
            n++;
        }
    }
    qsort(all, n, sizeof *all, by_ts);
    size_t dl = 0, dc = 0, rl = 0, rc = 0, ml = 0, mc = 0;
    *l = (tj_logs){0};
    for (size_t i = 0; i < n; i++) {
        if (all[i].order)
            tj_append(&l->rewards, &rl, &rc, all[i].line);
        else
            tj_append(&l->decisions, &dl, &dc, all[i].line);
        tj_append(&l->mixed, &ml, &mc, all[i].line);
    }
    free(all);
}

void tj_free_logs(tj_logs *l)
{
    free(l->decisions);
    free(l->rewards);
    free(l->mixed);
}
