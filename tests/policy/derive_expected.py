#!/usr/bin/env python3
"""Derives the expected numbers hard-coded in test_policy_score.c.

An independent, literal transcription of docs/policies.md (IEEE doubles,
the C library's exp through math.exp). The C tests do not run this script;
it documents where their constants come from. Run: python3 derive_expected.py
"""
import math

CONSTRAINTS = ("capacity", "coldstart", "head", "whale")

# the hand-built event of test_policy_score.c (score_event)
CANDS = [  # ev, sigma, load, capacity (0 = unlimited), whales, cold_start, head
    (1.3, 0.4, 90, 100, 0, False, True),
    (0.7, 1.1, 0, 0, 2, True, False),
    (2.25, 0.05, 120, 100, 1, False, False),
    (0.0, 0.0, 5, 5, 3, True, True),
]
LOG_LAMBDA = {"capacity": 0.7, "coldstart": 0.3, "head": 0.2, "whale": 0.45}


def score(p, cand, is_whale, lambda_values):
    ev, sigma, load, cap, whales, cs, head = cand
    beta = p.get("beta", 0.0)
    alpha = p.get("crowding_alpha", 0.0)
    thr = p.get("crowding_threshold", 1.0)
    bonus = p.get("coldstart_bonus", 0.0)
    k = p.get("whale_k", 1)
    g = 1.0 / (1.0 + alpha * max(0.0, load / cap - thr)) if cap > 0 else 1.0
    lam = p.get("lambda", {})
    if lam == "log":
        lam = lambda_values or {}
    d = {
        "capacity": 1.0 if cap > 0 and load + 1 > cap else 0.0,
        "coldstart": -1.0 if cs else 0.0,
        "head": 1.0 if head else 0.0,
        "whale": 1.0 if is_whale and whales >= k else 0.0,
    }
    pen = 0.0
    for c in CONSTRAINTS:
        pen += lam.get(c, 0.0) * d[c]
    return (ev + beta * sigma) * g + bonus * (1.0 if cs else 0.0) - pen


def greedy(s, eps=0.0):
    mx = max(s)
    cut = mx - 1e-9 * max(1.0, abs(mx))
    m = sum(1 for x in s if x >= cut)
    return [eps / len(s) + (1 - eps) * ((1.0 / m) if x >= cut else 0.0) for x in s]


def softmax(s, t):
    mx = max(s)
    e = [math.exp((x - mx) / t) for x in s]
    tot = 0.0
    for x in e:
        tot += x
    return [x / tot for x in e]


POLICIES = {
    "beta_pos": {"beta": 0.5},
    "beta_neg": {"beta": -1.5},
    "crowd": {"crowding_alpha": 2.0, "crowding_threshold": 0.8},
    "bonus": {"coldstart_bonus": 0.75},
    "fixed": {"lambda": {"capacity": 0.4, "coldstart": 0.2, "head": 0.15, "whale": 0.3},
              "whale_k": 2},
    "log": {"lambda": "log"},
    "all": {"beta": 0.3, "crowding_alpha": 1.5, "crowding_threshold": 0.5,
            "coldstart_bonus": 0.1,
            "lambda": {"capacity": 0.4, "coldstart": 0.2, "head": 0.15, "whale": 0.3},
            "whale_k": 0},
    "whale3": {"lambda": {"whale": 0.3}, "whale_k": 3},
}


DEFAULTS = [
    ("greedy", {}, greedy),
    ("ucb", {"beta": 1.0}, greedy),
    ("lcb", {"beta": -1.0}, greedy),
    ("softmax", {}, lambda s: softmax(s, 0.5)),
    ("eps_greedy", {}, lambda s: greedy(s, 0.1)),
    ("crowding", {"crowding_alpha": 1.0, "crowding_threshold": 0.8}, greedy),
    ("coldstart", {"coldstart_bonus": 0.5}, lambda s: greedy(s, 0.1)),
    ("shadow_log", {"lambda": "log"}, greedy),
]


def show(label, xs):
    print("%-28s {%s}" % (label, ", ".join(repr(x) for x in xs)))


if __name__ == "__main__":
    for name, p in POLICIES.items():
        for whale in (True, False):
            for lv in (LOG_LAMBDA, None):
                if name != "log" and lv is None:
                    continue
                s = [score(p, c, whale, lv) for c in CANDS]
                show("%s whale=%d lv=%d" % (name, whale, lv is not None), s)
    show("softmax 1,2,3 t=0.5", softmax([1.0, 2.0, 3.0], 0.5))
    show("softmax 0.1,0.4,0.2,0.4 t=0.3", softmax([0.1, 0.4, 0.2, 0.4], 0.3))
    show("softmax all score t=0.5", softmax([score(POLICIES["all"], c, True, None)
                                             for c in CANDS], 0.5))
    show("eps 0.1 on tie", greedy([2.0, 5.0, 5.0, 1.0], 0.1))
    show("eps 0.3 all", greedy([score(POLICIES["all"], c, True, None) for c in CANDS], 0.3))
    # the built-in set on the event of test_policy_default.c
    dcands = [(1.3, 0.5, 10, 10, 0, False, False), (1.2, 0.1, 0, 0, 0, True, False),
              (0.9, 1.0, 2, 10, 1, False, True)]
    dlv = {"capacity": 0.5}
    for name, p, rule in DEFAULTS:
        for lv in (dlv, None):
            s = [score(p, c, True, lv) for c in dcands]
            show("default %s lv=%d scores" % (name, lv is not None), s)
            show("default %s lv=%d pi" % (name, lv is not None), rule(s))
