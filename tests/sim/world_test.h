/*
 * world_test.h — helpers shared by the world configuration tests
 * (test_world_conf.c, test_world_parse.c).
 */
#ifndef GOPE_WORLD_TEST_H
#define GOPE_WORLD_TEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gope_sim.h"
#include "simworld.h"
#include "testutil.h"

static inline gope_status parse(const char *json, gope_world_conf *c, gope_err *err)
{
    return gope_world_parse(json, strlen(json), "t.json", c, err);
}

/* The world.v1 text of `c` (NUL-terminated); free() it. */
static inline char *to_json(const gope_world_conf *c)
{
    gope_jbuf b = {0};
    gope_world_json(c, &b);
    gope_jbuf_raw(&b, "", 1);
    cr_assert(!b.oom);
    return b.data;
}

static inline void expect_same(const gope_world_conf *got, const gope_world_conf *want)
{
    cr_expect_eq(memcmp(got, want, sizeof *got), 0, "worlds differ (\"%s\" vs \"%s\")",
                 got->name, want->name);
}

/* dir/name in one of four rotating buffers (valid until four more calls). */
static inline char *in_dir(const char *dir, const char *name)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

static inline void write_text(const char *path, const char *text)
{
    cr_assert(tu_write_file(path, text, strlen(text)), "write %s", path);
}

#endif
