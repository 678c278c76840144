/*
 * recordset.c — window records of runs as sets (recordset.h).
 */
#include "recordset.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsoncmp.h"
#include "testutil.h"

int tr_collect(const char *path, cJSON *records, cJSON **summary)
{
    char *text = tu_read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    int added = 0;
    *summary = NULL;
    for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        cJSON *line = cJSON_Parse(p);
        cr_assert(line, "%s: not JSON: %.200s", path, p);
        if (strcmp(tu_str(line, "schema"), "ope_run.v1") == 0) {
            cJSON_Delete(*summary);
            *summary = line;
            continue;
        }
        char key[256];
        snprintf(key, sizeof key, "%.0f-%.0f/%s/r%.0f", tu_num(line, "window.start"),
                 tu_num(line, "window.end"), tu_str(line, "policy"), tu_num(line, "revision"));
        const cJSON *seen = cJSON_GetObjectItemCaseSensitive(records, key);
        if (seen) {
            tu_expect_same_json(line, seen, key);
            cJSON_Delete(line);
        } else {
            cJSON_AddItemToObject(records, key, line);
            added++;
        }
    }
    free(text);
    return added;
}

void tr_expect_same_records(const cJSON *got, const cJSON *want, const char *what)
{
    cr_expect_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want), "%s: record count", what);
    const cJSON *w;
    cJSON_ArrayForEach(w, want) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
        cr_expect(g, "%s: no record %s", what, w->string);
        if (g)
            tu_expect_same_json(g, w, w->string);
    }
}
