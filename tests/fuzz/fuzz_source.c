/* fuzz_source.c — the line source over arbitrary bytes (plain or zstd):
 * never crash, and the lines it returns tile the decompressed stream:
 * each offset is the previous offset + length + 1. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gope_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    gope_source_t *src;
    gope_err err;
    if (gope_source_open(path, &src, &err) == GOPE_OK) {
        gope_line line;
        uint64_t next_offset = 0, next_lineno = 1;
        while (gope_source_next(src, &line, &err) == GOPE_OK) {
            if (line.offset != next_offset || line.lineno != next_lineno)
                abort();
            next_offset += line.full_len + 1;
            next_lineno++;
        }
        gope_source_close(src);
    }
    close(fd);
    return 0;
}
