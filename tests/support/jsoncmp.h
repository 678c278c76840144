/*
 * jsoncmp.h — two JSON documents compared value for value, for tests whose
 * runs add the same numbers in another order (consume vs replay, a run with
 * crashes vs one without).
 */
#ifndef GOPE_JSONCMP_H
#define GOPE_JSONCMP_H

#include <cJSON.h>

/* `got` equals `want` (cr_expect; messages name the path below `where`): the
 * same members and lengths, equal strings and booleans, numbers (or nulls)
 * equal to 1e-9 relative (tu_num_match). */
void tu_expect_same_json(const cJSON *got, const cJSON *want, const char *where);

#endif
