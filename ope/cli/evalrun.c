/*
 * evalrun.c — the evaluation run replay and consume share (see evalrun.h):
 * options -> pipeline and sinks, the end of a run, the release. A command
 * only brings its source and feeds gope_pipeline_line/decoded in between.
 */
#include "evalrun.h"

#include "agree_int.h"

#include <stdio.h>
#include <string.h>

static int fail(const gope_eval *ev, const gope_err *err, int rc)
{
    fprintf(stderr, "giftope %s: %s\n", ev->cmd, err->msg);
    return rc;
}

static gope_status window_conf(const gope_eval_opts *o, gope_pipeline_conf *pc, gope_err *err)
{
    gope_status st;
    if (strcmp(o->window, "all") == 0) {
        if (o->slide)
            return gope_err_set(err, GOPE_ERR_USAGE, "--slide needs a sized --window");
    } else {
        if ((st = gope_duration_parse(o->window, "--window", &pc->window.size_ms, err)))
            return st;
        if (pc->window.size_ms == 0)
            return gope_err_set(err, GOPE_ERR_USAGE, "--window must be positive");
        pc->window.slide_ms = pc->window.size_ms;
        if (o->slide && (st = gope_duration_parse(o->slide, "--slide", &pc->window.slide_ms, err)))
            return st;
        if (pc->window.slide_ms == 0)
            return gope_err_set(err, GOPE_ERR_USAGE, "--slide must be positive");
    }
    if ((st = gope_duration_parse(o->lateness, "--lateness", &pc->window.lateness_ms, err)))
        return st;
    pc->reward_wait_ms = GOPE_REWARD_WAIT_MS;
    if (o->reward_wait &&
        (st = gope_duration_parse(o->reward_wait, "--reward-wait", &pc->reward_wait_ms, err)))
        return st;
    return gope_duration_parse(o->dedupe_horizon, "--dedupe-horizon", &pc->dedupe_horizon_ms,
                               err);
}

/* --truth: the agreement session the records pass through. @return 0, 1, 2. */
static int open_agreement(gope_eval *ev, const gope_eval_opts *o)
{
    gope_err err = {{0}};
    gope_status st = gope_agree_rules_parse(o->rules, &ev->rules, &err);
    if (st == GOPE_OK)
        st = gope_truth_load(o->truth, &ev->truth, &err);
    if (st == GOPE_OK)
        st = gope_agree_new(ev->truth, &ev->rules, &ev->agree, &err);
    if (st == GOPE_OK)
        return 0;
    return fail(ev, &err, st == GOPE_ERR_INPUT || st == GOPE_ERR_NOMEM ? 1 : 2);
}

/* --out / --dead-letter: a file, or kafka:TOPIC when the command has brokers.
 * A file appended to says on stderr when it had a partial last line cut. */
static gope_status open_sink(const gope_eval *ev, const char *what, const char *spec,
                             gope_sink *sink, gope_err *err)
{
    if (!ev->kafka.brokers && gope_sink_is_kafka(spec))
        return gope_err_set(err, GOPE_ERR_USAGE, "%s %s: kafka:TOPIC needs --brokers (consume)",
                            what, spec);
    if (!ev->append || gope_sink_is_kafka(spec))
        return gope_sink_open(spec, what, &ev->kafka, sink, err);
    size_t cut = 0;
    gope_status st = gope_sink_file_append(spec, &cut, sink, err);
    if (st == GOPE_OK && cut)
        fprintf(stderr, "giftope %s: %s %s: cut a partial last line (%zu bytes) left by a "
                        "crash; it is written again\n", ev->cmd, what, spec, cut);
    return st;
}

int gope_eval_open(gope_eval *ev, const char *cmd, const gope_eval_opts *o,
                   const gope_pipeline_conf *base)
{
    gope_err err = {{0}};
    int rc;
    ev->cmd = cmd;
    ev->pc = *base;
    ev->truth_path = o->truth;
    if (window_conf(o, &ev->pc, &err) ||
        (o->policies ? gope_policies_load(o->policies, &ev->pol, &err)
                     : gope_policies_default(&ev->pol, &err)) ||
        gope_estset_parse(o->estimators, &ev->set, &err))
        return fail(ev, &err, 2);
    if (o->truth && (rc = open_agreement(ev, o)))
        return rc;
    gope_status st = open_sink(ev, "--out", o->out, &ev->out, &err);
    if (st == GOPE_OK && o->dead_letter)
        st = open_sink(ev, "--dead-letter", o->dead_letter, &ev->dead, &err);
    if (st != GOPE_OK)
        return fail(ev, &err, 2);
    if (ev->agree) /* records pass through the agreement session on their way out */
        gope_agree_sink(ev->agree, &ev->out, &ev->agree_out);
    if (gope_pipeline_new(&ev->pc, ev->pol, ev->set, ev->agree ? &ev->agree_out : &ev->out,
                          &ev->dead, &ev->pl, &err))
        return fail(ev, &err, 2);
    return 0;
}

void gope_eval_describe(gope_jbuf *b, const gope_eval *ev)
{
    gope_jbuf_str(b, ",\"policies\":[");
    for (size_t i = 0; i < gope_policies_count(ev->pol); i++) {
        if (i)
            gope_jbuf_raw(b, ",", 1);
        const char *n = gope_policy_name(ev->pol, i);
        gope_jbuf_quote(b, n, strlen(n));
    }
    char est[512];
    gope_estset_describe(ev->set, est, sizeof est);
    gope_jbuf_str(b, "],\"estimators\":");
    gope_jbuf_quote(b, est, strlen(est));
    gope_jbuf_str(b, ",\"window\":{\"size_ms\":");
    if (ev->pc.window.size_ms)
        gope_jbuf_i64(b, ev->pc.window.size_ms);
    else
        gope_jbuf_str(b, "\"all\"");
    gope_jbuf_str(b, ",\"slide_ms\":");
    gope_jbuf_i64(b, ev->pc.window.slide_ms);
    gope_jbuf_str(b, ",\"lateness_ms\":");
    gope_jbuf_i64(b, ev->pc.window.lateness_ms);
    gope_jbuf_str(b, "}");
}

int gope_eval_summary(gope_eval *ev, gope_jbuf *extra)
{
    gope_err err = {{0}};
    if ((ev->agree && gope_agree_write_summary(extra, ev->agree, ev->truth_path, &err)) ||
        gope_pipeline_summary(ev->pl, extra->data, &err))
        return fail(ev, &err, 1);
    return 0;
}

int gope_eval_finish(gope_eval *ev, gope_jbuf *extra)
{
    gope_err err = {{0}};
    if (gope_pipeline_finish(ev->pl, &err))
        return fail(ev, &err, 1);
    return gope_eval_summary(ev, extra);
}

void gope_eval_hint_dropped(const gope_eval *ev, const gope_eval_opts *o, bool quiet)
{
    if (!ev->pl)
        return;
    const gope_pipeline_stats *s = gope_pipeline_stats_get(ev->pl);
    if (!quiet && !o->dead_letter && (s->rejected || s->late))
        fprintf(stderr, "giftope %s: %llu lines rejected, %llu late "
                        "(--dead-letter FILE keeps them with their positions)\n",
                ev->cmd, (unsigned long long)s->rejected, (unsigned long long)s->late);
}

int gope_eval_close(gope_eval *ev, int rc)
{
    gope_err err = {{0}};
    if (gope_sink_close(&ev->out, &err))
        rc = fail(ev, &err, 1);
    if (gope_sink_close(&ev->dead, &err)) /* closed even when --out failed */
        rc = fail(ev, &err, 1);
    gope_pipeline_free(ev->pl);
    gope_agree_free(ev->agree);
    gope_truth_free(ev->truth);
    gope_estset_free(ev->set);
    gope_policies_free(ev->pol);
    return rc;
}
