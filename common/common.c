/* common.c — status names and error formatting (see gope_common.h). */
#include "gope_common.h"

#include <stdarg.h>
#include <stdio.h>

const char *gope_strerror(gope_status st)
{
    switch (st) {
    case GOPE_OK: return "ok";
    case GOPE_EOF: return "end of input";
    case GOPE_ERR_NOMEM: return "out of memory";
    case GOPE_ERR_IO: return "input/output error";
    case GOPE_ERR_USAGE: return "usage error";
    case GOPE_ERR_INPUT: return "malformed input";
    }
    return "unknown status";
}

gope_status gope_err_set(gope_err *err, gope_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}
