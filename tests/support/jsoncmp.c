/* jsoncmp.c — see jsoncmp.h. */
#include "jsoncmp.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

void tu_expect_same_json(const cJSON *got, const cJSON *want, const char *where)
{
    char sub[300];
    if (cJSON_IsObject(want)) {
        cr_assert(cJSON_IsObject(got), "%s: not an object", where);
        cr_expect_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want), "%s: member count", where);
        const cJSON *w;
        cJSON_ArrayForEach(w, want) {
            snprintf(sub, sizeof sub, "%s.%s", where, w->string);
            const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
            cr_assert(g, "%s: missing", sub);
            tu_expect_same_json(g, w, sub);
        }
    } else if (cJSON_IsArray(want)) {
        cr_assert(cJSON_IsArray(got), "%s: not an array", where);
        cr_assert_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want), "%s: length", where);
        for (int i = 0; i < cJSON_GetArraySize(want); i++) {
            snprintf(sub, sizeof sub, "%s[%d]", where, i);
            tu_expect_same_json(cJSON_GetArrayItem(got, i), cJSON_GetArrayItem(want, i), sub);
        }
    } else if (cJSON_IsBool(want)) {
        cr_expect(cJSON_IsBool(got) && cJSON_IsTrue(got) == cJSON_IsTrue(want), "%s: bool", where);
    } else if (cJSON_IsString(want)) {
        cr_expect(cJSON_IsString(got) && strcmp(got->valuestring, want->valuestring) == 0,
                  "%s: \"%s\", want \"%s\"", where, cJSON_IsString(got) ? got->valuestring : "?",
                  want->valuestring);
    } else {
        cr_expect(tu_num_match(got, want), "%s: %.17g, want %.17g", where, got->valuedouble,
                  want->valuedouble);
    }
}
