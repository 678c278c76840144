/*
 * gope_json.h — reading a whole JSON document (a configuration file) with
 * cJSON and messages that say where it went wrong.
 *
 * Every configuration parser (policies.v1 in policy/, world.v1 in sim/)
 * needs the same three things before it looks at a single field: the text
 * must hold no NUL byte, nothing but whitespace may follow the document, and a
 * syntax error must be reported as "SOURCE: invalid JSON at line L, column C"
 * so a person can find it in an editor. They are written once here, together
 * with the article-and-noun type names ("a string", "an array") that field
 * messages quote. JSON *lines* (one record a line) are not documents: their
 * readers parse line by line and name the line instead.
 */
#ifndef GOPE_JSON_H
#define GOPE_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "gope_common.h"

/*! gope_json_parse() : parses `len` bytes of `text` (need not be
 * NUL-terminated) as exactly one JSON document; trailing whitespace is
 * allowed, anything else after the document is an error. `source` names the
 * input in messages (NULL reads "json").
 * On success *out is the tree, owned by the caller (cJSON_Delete); on error
 * *out is NULL.
 * @return GOPE_OK; GOPE_ERR_USAGE "SOURCE: invalid JSON: NUL byte at offset
 *         N" or "SOURCE: invalid JSON at line L, column C" (1-based, where
 *         cJSON stopped); GOPE_ERR_NOMEM "SOURCE: out of memory". */
gope_status gope_json_parse(const char *text, size_t len, const char *source, cJSON **out,
                            gope_err *err);

/*! gope_json_type() : what `j` is, for a message ("expected a number, got
 * a string"): "a string", "a number", "a boolean", "an array", "an object",
 * "null", or "nothing" for a NULL pointer (a missing field).
 * @return a static string. */
const char *gope_json_type(const cJSON *j);

#endif
