/*
 * sim_bench.c — how fast the simulator runs (issue 3, section 6): the
 * giftlive-v2 world (10,000 users x 500 streamers, rounds of 200) for seed
 * 42, Greedy from the default policy set, N decisions on one core. Prints one
 * JSON line: world build time, run time, decisions/s, peak RSS.
 *
 * Without --log the run has no callback, so the figure is the engine alone
 * (the research Python simulator: ~20,000 decisions/s; target >= 50x).
 * --log PATH also writes the alloc.v1 log (PATH /dev/null measures the
 * writer without the disk; a PATH ending in .zst adds zstd -3).
 *
 *   sim_bench [N=200000] [--log PATH] [--world PRESET|FILE] [--policy NAME]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gope_sim.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int usage(void)
{
    fputs("usage: sim_bench [N] [--log PATH] [--world PRESET|FILE] [--policy NAME]\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    unsigned long long n = 200000;
    const char *log_path = NULL, *world = "giftlive-v2", *policy = "greedy";
    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
            log_path = argv[++i];
        else if (strcmp(argv[i], "--world") == 0 && i + 1 < argc)
            world = argv[++i];
        else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
            policy = argv[++i];
        else if ((n = strtoull(argv[i], &end, 10)) == 0 || *end)
            return usage();
    }

    gope_err err = {{0}};
    gope_world_conf conf;
    gope_policy_set_t *pol = NULL;
    gope_sim_world_t *w = NULL;
    gope_sim_allocator alloc = {0};
    gope_sim_log_t *log = NULL;
    gope_sim_summary sum;
    size_t index = 0;
    int rc = 1;
    if (gope_world_load(world, &conf, &err) || gope_policies_default(&pol, &err))
        goto cleanup;
    while (index < gope_policies_count(pol) && strcmp(gope_policy_name(pol, index), policy))
        index++;
    if (index == gope_policies_count(pol)) {
        snprintf(err.msg, sizeof err.msg, "unknown policy %s", policy);
        goto cleanup;
    }
    const double t0 = now_s();
    if (gope_sim_world_new(&conf, 42, &w, &err))
        goto cleanup;
    const double t1 = now_s();
    if (gope_sim_policy_allocator(pol, index, &alloc, &err) ||
        (log_path && gope_sim_log_open(log_path, &log, &err)))
        goto cleanup;
    const gope_sim_run_conf rc_conf = {.decisions = n,
                                       .on_step = log ? gope_sim_log_write : NULL,
                                       .ctx = log};
    if (gope_sim_run(w, &alloc, &rc_conf, &sum, &err))
        goto cleanup;
    gope_status st = gope_sim_log_close(log, &err);
    log = NULL;
    if (st)
        goto cleanup;
    const double t2 = now_s();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"world\":\"%s\",\"seed\":42,\"policy\":\"%s\",\"decisions\":%llu,"
           "\"build_s\":%.4f,\"run_s\":%.4f,\"decisions_per_s\":%.0f,\"peak_rss_kib\":%ld,"
           "\"log\":%s%s%s,\"v_static\":%.6g,\"gifts\":%llu}\n",
           conf.name, policy, n, t1 - t0, t2 - t1, (double)n / (t2 - t1), ru.ru_maxrss,
           log_path ? "\"" : "", log_path ? log_path : "null", log_path ? "\"" : "",
           sum.v_static, (unsigned long long)sum.gifts);
    rc = 0;
cleanup:
    if (rc)
        fprintf(stderr, "sim_bench: %s\n", err.msg);
    gope_sim_log_close(log, &err);
    gope_sim_allocator_free(&alloc);
    gope_sim_world_free(w);
    gope_policies_free(pol);
    return rc;
}
