/*
 * join_int.h — the reward join's state, shared by join.c (the data path)
 * and join_save.c (its binary save and load); not part of the public API.
 *
 * Records (pending decisions and held rewards) live in one array with a
 * free list, so a steady stream reuses slots instead of allocating; a
 * decision's observations live in a parallel array, conf.n_obs per slot.
 * Every record is in the hash chain of its event_id (buckets[hash & mask],
 * linked through `next`) and in the heap of its kind, ordered by (ts, seq):
 * with one wait for all, that is deadline order.
 */
#ifndef GOPE_JOIN_INT_H
#define GOPE_JOIN_INT_H

#include "gope_ope.h"

#define GOPE_JOIN_NIL UINT32_MAX

enum { GOPE_JREC_FREE = 0, GOPE_JREC_DECISION, GOPE_JREC_REWARD };

typedef struct {
    uint8_t kind;        /* GOPE_JREC_* */
    uint8_t id_len;      /* 1..GOPE_MAX_EVENT_ID */
    uint32_t next;       /* hash chain; the free list for a free slot */
    uint32_t heap_at;    /* position in its kind's heap */
    uint64_t seq;        /* arrival order: ties of ts break by it */
    uint64_t hash;
    int64_t ts;
    char id[GOPE_MAX_EVENT_ID];
    /* a decision: the rewards summed so far */
    gope_ksum sum;
    uint32_t n_rewards;
    /* a reward */
    double reward;
    int64_t near_ts;     /* ts of a decision for this id outside the wait, or INT64_MIN */
    char *blob;          /* source, '\0', the raw line */
    size_t src_len, raw_len;
    uint64_t lineno, offset;
} gope_jrec;

/* A held reward that matches a new decision: its arrival and its slot. */
typedef struct {
    uint64_t seq;
    uint32_t at;
} gope_jmatch;

typedef struct {
    uint32_t *at; /* record indices */
    size_t n, cap;
} gope_jheap;

struct gope_join_s {
    gope_join_conf conf;
    gope_jrec *recs;
    gope_obs *obs;       /* conf.n_obs per record slot */
    size_t cap, live;
    uint32_t free_head;
    uint32_t *buckets;
    size_t mask;         /* buckets: mask + 1, a power of two */
    gope_jheap dec, rew;
    size_t n_dec, n_rew;
    uint64_t next_seq;
    gope_jmatch *scratch; /* gope_join_decision: matching rewards, by seq */
    size_t scratch_cap;
};

/*! gope_join_insert() : a new record of `kind` for `id` at `ts` with
 * arrival number `seq`, in the table and its heap; *at is its slot (the
 * caller fills the kind's fields). All memory is reserved before anything
 * changes, so GOPE_ERR_NOMEM leaves the join as it was. */
gope_status gope_join_insert(gope_join_t *j, int kind, const char *id, size_t len, int64_t ts,
                             uint64_t seq, uint32_t *at, gope_err *err);

/*! gope_join_drop() : remove record `r` from the table and its heap. */
void gope_join_drop(gope_join_t *j, uint32_t r);

#endif /* GOPE_JOIN_INT_H */
