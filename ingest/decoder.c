/*
 * decoder.c — the decoder object shared by gope_decode_line() and
 * gope_decode_line_cjson(): buffers allocated once and reused for every line
 * (candidates, probs, a line-sized scratch copy), so decoding a line never
 * allocates. The scratch buffer is reserved, not touched, until a line needs
 * a NUL-terminated copy (the cJSON reference, or a > 19-digit number).
 */
#include <stdlib.h>

#include "decode_int.h"

gope_decoder_t *gope_decoder_new(void)
{
    gope_decoder_t *dec = calloc(1, sizeof *dec);
    if (!dec)
        return NULL;
    dec->cands = malloc((GOPE_MAX_CANDIDATES + 1) * sizeof *dec->cands);
    dec->cand_flags = malloc((GOPE_MAX_CANDIDATES + 1) * sizeof *dec->cand_flags);
    dec->probs = malloc(GOPE_MAX_CANDIDATES * sizeof *dec->probs);
    dec->scratch = malloc(GOPE_MAX_LINE + 1);
    if (!dec->cands || !dec->cand_flags || !dec->probs || !dec->scratch)
        goto cleanup;
    return dec;
cleanup:
    gope_decoder_free(dec);
    return NULL;
}

void gope_decoder_free(gope_decoder_t *dec)
{
    if (!dec)
        return;
    free(dec->cands);
    free(dec->cand_flags);
    free(dec->probs);
    free(dec->scratch);
    free(dec);
}

void gope_dec_reset(gope_decoder_t *dec)
{
    gope_dec_raw *raw = &dec->raw;
    memset(raw, 0, sizeof *raw);
    raw->cand_type_at = raw->cand_missing_at = GOPE_DEC_NONE;
    gope_dec_nums none = {0, GOPE_DEC_NONE, GOPE_DEC_NONE};
    raw->probs = raw->lambda = raw->cv = none;
}
