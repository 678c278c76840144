/*
 * ckpt_claim.h — owner epochs of the per-partition checkpoint files
 * (consume --partials --checkpoint; docs/scaling.md, "Zombie members").
 *
 * A partition's files in DIR share a base name BASE ("TOPIC.PARTITION"):
 *   BASE.eE.claim  epoch E is owned (made with an exclusive create, so two
 *                  members never own the same epoch; it holds the owner's name)
 *   BASE.eE.ckpt   the state written by epoch E's owner, only by it
 *   BASE.ckpt      a file from before epochs: read as epoch 0's state
 *   BASE.eE.ckpt.tmp  a write of epoch E in progress (or cut short by a crash)
 * A new owner claims one more than the highest claim, then loads the state
 * of the highest epoch. A writer whose claim is no longer the highest is
 * fenced: a member that stalled past the session timeout (a zombie) finds
 * the new owner's claim at its next checkpoint and writes nothing more. A
 * zombie's write that raced the claim lands in its own epoch's file, which
 * nobody reads once the new owner wrote its own.
 *
 * Claims and states are only ever removed below the remover's own epoch,
 * after it wrote its state, so the highest claim and the highest state
 * always stay.
 */
#ifndef GOPE_CKPT_CLAIM_H
#define GOPE_CKPT_CLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "gope_common.h"

/* What DIR holds of one base name. */
typedef struct {
    uint64_t claim;  /* the highest claimed epoch; 0: none */
    uint64_t state;  /* the highest epoch with a state (0 with has_state: BASE.ckpt) */
    bool has_state;
    uint64_t lowest; /* the lowest epoch of any claim or state (0: BASE.ckpt) */
    bool any;        /* some claim or state exists (lowest is meaningful) */
} gope_claim_view;

/*! gope_claim_scan() : the claims and states of `base` in `dir` (a missing
 * dir holds none). @return GOPE_OK; GOPE_ERR_IO naming dir. */
gope_status gope_claim_scan(const char *dir, const char *base, gope_claim_view *out,
                            gope_err *err);

/*! gope_claim_take() : claim the epoch after the highest claimed one for
 * `who` (written into the claim), creating dir if missing (not its
 * parents); the claim and dir are fsync'd. A claim made by another member
 * in between is skipped over. *epoch receives the epoch now owned.
 * @return GOPE_OK; GOPE_ERR_IO naming the file; GOPE_ERR_USAGE for a name
 *         too long. */
gope_status gope_claim_take(const char *dir, const char *base, const char *who,
                            uint64_t *epoch, gope_err *err);

/*! gope_claim_held() : *held: no claim above `epoch` exists for `base` (the
 * view of dir in *view, may be NULL). @return as gope_claim_scan(). */
gope_status gope_claim_held(const char *dir, const char *base, uint64_t epoch, bool *held,
                            gope_claim_view *view, gope_err *err);

/*! gope_claim_state_name() : "BASE.eEPOCH.ckpt" into buf, or "BASE.ckpt"
 * when `legacy` (the file from before epochs).
 * @return GOPE_OK; GOPE_ERR_USAGE when it does not fit. */
gope_status gope_claim_state_name(const char *base, uint64_t epoch, bool legacy, char *buf,
                                  size_t size, gope_err *err);

/*! gope_claim_prune() : remove the claims, states and unfinished writes
 * (NAME.tmp) of `base` below `epoch`, BASE.ckpt included (superseded once
 * epoch's state is written); one already gone is fine.
 * @return GOPE_OK; GOPE_ERR_IO naming the file. */
gope_status gope_claim_prune(const char *dir, const char *base, uint64_t epoch, gope_err *err);

/*! gope_claim_who() : the owner named in BASE.eEPOCH.claim into buf ("?"
 * when it cannot be read): for the message of a fenced member. */
void gope_claim_who(const char *dir, const char *base, uint64_t epoch, char *buf, size_t size);

#endif /* GOPE_CKPT_CLAIM_H */
