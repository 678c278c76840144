/*
 * json.c — see gope_json.h.
 *
 * cJSON_ParseWithLengthOpts checks "nothing after the document" only when
 * asked to require a NUL terminator and given one inside the length, so the
 * text is copied into a buffer one byte longer. A NUL inside the text is
 * refused up front: cJSON would stop there and call the rest trailing
 * garbage at a misleading position.
 */
#include "gope_json.h"

#include <stdlib.h>
#include <string.h>

/* "invalid JSON at line L, column C" for where cJSON stopped in buf[0..len). */
static gope_status invalid_at(const char *buf, size_t len, const char *end, const char *source,
                              gope_err *err)
{
    const size_t pos = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
    size_t line = 1, line_start = 0;
    for (const char *nl = buf; (nl = memchr(nl, '\n', pos - (size_t)(nl - buf))) != NULL; nl++) {
        line++;
        line_start = (size_t)(nl - buf) + 1;
    }
    return gope_err_set(err, GOPE_ERR_USAGE, "%s: invalid JSON at line %zu, column %zu", source,
                        line, pos - line_start + 1);
}

gope_status gope_json_parse(const char *text, size_t len, const char *source, cJSON **out,
                            gope_err *err)
{
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    const char *end = NULL;
    gope_status st = GOPE_OK;

    *out = NULL;
    if (!source)
        source = "json";
    if (nul)
        return gope_err_set(err, GOPE_ERR_USAGE, "%s: invalid JSON: NUL byte at offset %zu",
                            source, (size_t)(nul - text));
    char *buf = malloc(len + 1);
    if (!buf)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", source);
    if (len)
        memcpy(buf, text, len);
    buf[len] = '\0';
    *out = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!*out)
        st = invalid_at(buf, len, end, source, err);
    free(buf);
    return st;
}

const char *gope_json_type(const cJSON *j)
{
    if (!j)
        return "nothing";
    if (cJSON_IsNull(j))
        return "null";
    if (cJSON_IsBool(j))
        return "a boolean";
    if (cJSON_IsNumber(j))
        return "a number";
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsArray(j))
        return "an array";
    return "an object";
}
