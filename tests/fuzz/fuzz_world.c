/* fuzz_world.c — the world.v1 parser must never crash or leak, and a world
 * it accepts must survive the round trip through gope_world_json(). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gope_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gope_world_conf c, back;
    gope_err err;
    memset(&c, 0, sizeof c);
    memset(&back, 0, sizeof back);
    if (gope_world_parse((const char *)data, size, "fuzz", &c, &err) != GOPE_OK)
        return 0;
    gope_jbuf b = {0};
    gope_world_json(&c, &b);
    if (b.oom)
        abort();
    if (gope_world_parse(b.data, b.len, "round trip", &back, &err) != GOPE_OK) {
        fprintf(stderr, "round trip rejected: %s\n%.*s\n", err.msg, (int)b.len, b.data);
        abort();
    }
    const unsigned char *p = (const void *)&c, *q = (const void *)&back;
    for (size_t i = 0; i < sizeof c; i++)
        if (p[i] != q[i]) {
            fprintf(stderr, "round trip differs at byte %zu of the struct\n%.*s\n", i,
                    (int)b.len, b.data);
            abort();
        }
    gope_jbuf_free(&b);
    return 0;
}
