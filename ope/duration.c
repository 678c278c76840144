/* duration.c — "90s", "5m", "1h", "1d", "250ms" to milliseconds.
 * Durations are whole milliseconds because event time is epoch milliseconds. */
#include "gope_ope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *suffix;
    int64_t ms;
} units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1},
};

gope_status gope_duration_parse(const char *text, const char *what, int64_t *ms,
                                gope_err *err)
{
    if (!text || text[0] < '0' || text[0] > '9')
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "%s: '%s' is not a duration (examples: 90s, 5m, 1h, 1d)",
                            what, text ? text : "");
    errno = 0;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (errno == ERANGE || n > (unsigned long long)(INT64_MAX / units[i].ms))
            return gope_err_set(err, GOPE_ERR_USAGE, "%s: '%s' is too large", what, text);
        *ms = (int64_t)n * units[i].ms;
        return GOPE_OK;
    }
    return gope_err_set(err, GOPE_ERR_USAGE,
                        "%s: '%s' has an unknown unit (use ms, s, m, h or d)", what, text);
}
