/*
 * mergecheck.c — merge's records against one instance's (mergecheck.h).
 */
#include "mergecheck.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "jsoncmp.h"
#include "kafkatest.h"
#include "testutil.h"

/* ts of the line of `text` starting at `line`. */
static double ts_of(const char *line)
{
    const char *nl = strchr(line, '\n');
    cJSON *j = cJSON_ParseWithLength(line, nl ? (size_t)(nl - line) : strlen(line));
    cr_assert(j, "not JSON: %.100s", line);
    double ts = tu_num(j, "ts");
    cJSON_Delete(j);
    return ts;
}

void tm_log_span(const char *text, double *first, double *last)
{
    *first = ts_of(text);
    const char *last_line = text + strlen(text) - 2;
    while (last_line > text && *last_line != '\n')
        last_line--;
    *last = ts_of(last_line + 1);
    cr_assert_gt(*last, *first);
}

void tm_produce_sentinels(const char *brokers, const char *topic, int n_part, double ts)
{
    for (int p = 0; p < n_part; p++) {
        char line[512];
        snprintf(line, sizeof line,
                 "{\"event_id\":\"sentinel-%d\",\"ts\":%.0f,\"user_id\":\"u\","
                 "\"candidates\":[{\"streamer_id\":\"a\",\"ev\":1.5},"
                 "{\"streamer_id\":\"b\",\"ev\":0.5}],\"action\":0,\"propensity\":0.5,"
                 "\"reward\":2}",
                 p, ts);
        cr_assert_eq(tk_produce_lines_to(brokers, topic, p, line), 1);
    }
}

cJSON *tm_summary_of(const char *path)
{
    cJSON *lines = tu_read_jsonl(path);
    cr_assert(lines, "cannot read %s", path);
    cJSON *s = cJSON_Duplicate(cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1), true);
    cJSON_Delete(lines);
    cr_assert_str_eq(tu_str(s, "schema"), "ope_run.v1", "%s: no summary at the end", path);
    return s;
}

cJSON *tm_records_of(const char *path, const char *summary_schema, cJSON **summary)
{
    cJSON *lines = tu_read_jsonl(path);
    cr_assert(lines, "cannot read %s", path);
    cJSON *by_key = cJSON_CreateObject();
    *summary = NULL;
    cJSON *l;
    cJSON_ArrayForEach(l, lines) {
        const char *schema = tu_str(l, "schema");
        if (strcmp(schema, summary_schema) == 0)
            *summary = l;
        if (strcmp(schema, "ope_metrics.v1") != 0)
            continue;
        char key[160];
        snprintf(key, sizeof key, "%.0f/%s", tu_num(l, "window.start"), tu_str(l, "policy"));
        cr_assert_null(cJSON_GetObjectItemCaseSensitive(by_key, key), "%s: %s twice", path, key);
        cJSON_AddItemToObject(by_key, key, cJSON_Duplicate(l, true));
    }
    cr_assert(*summary, "%s: no %s line", path, summary_schema);
    *summary = cJSON_Duplicate(*summary, true);
    cJSON_Delete(lines);
    return by_key;
}

int tm_expect_merged(const cJSON *got, const cJSON *want, double sentinel, int *n_open)
{
    int n_final = 0;
    *n_open = 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, want) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
        if (tu_num(w, "window.end") > sentinel) {
            cr_expect_null(g, "%s: the sentinels' window is not final", w->string);
            (*n_open)++;
            continue;
        }
        cr_assert(g, "merge has no record %s", w->string);
        tu_expect_same_json(g, w, w->string);
        n_final++;
    }
    cr_expect_eq(cJSON_GetArraySize(got), n_final, "merge wrote only final windows");
    return n_final;
}

void tm_merge_and_one(const tu_cli *c, const char *brokers, const char *topic,
                      const char *partials, const char *n_source, const char *win,
                      const char *mout, const char *sout, cJSON **got, cJSON **ms, cJSON **want,
                      cJSON **ss)
{
    char mgroup[300], group1[300];
    snprintf(mgroup, sizeof mgroup, "%s-merge", topic);
    snprintf(group1, sizeof group1, "%s-one", topic);
    const char *merge[] = {"merge", "--brokers", brokers, "--topic", partials,
                           "--source-partitions", n_source, "--group", mgroup, "--idle-exit",
                           "5s", "--out", mout, NULL};
    tu_cli_expect(c, merge, 0, "incomplete");
    const char *one[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group1,
                         "--window", win, "--idle-exit", "5s", "--out", sout, "--quiet", NULL};
    tu_cli_expect(c, one, 0, NULL);
    *got = tm_records_of(mout, "ope_merge_run.v1", ms);
    *want = tm_records_of(sout, "ope_run.v1", ss);
}

char *tm_setup(tu_cli *c, const char *brokers, const char *topic, int n_part,
               const char *partials, int n_lines, char win[32], double *sentinel)
{
    char *text = tk_sim_log(c, 10, n_lines, tu_cli_path(c, "log.jsonl"));
    double first, last;
    tm_log_span(text, &first, &last);
    const long long win_s = (long long)((last - first) / 5000) + 1; /* about 5 windows */
    snprintf(win, 32, "%llds", win_s);
    *sentinel = last + 10.0 * 1000.0 * (double)win_s;
    tk_create_topic(brokers, topic, n_part);
    tk_create_topic(brokers, partials, 1);
    return text;
}
