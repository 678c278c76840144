/* fuzz_world.c — the world.v1 parser must never crash or leak, and a world
 * it accepts must survive the round trip through gope_world_json(). */
#include <stddef.h>
#include <stdint.h>
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
    if (gope_world_parse(b.data, b.len, "round trip", &back, &err) != GOPE_OK ||
        memcmp(&c, &back, sizeof c) != 0)
        abort();
    gope_jbuf_free(&b);
    return 0;
}
