/*
 * dir_lock.h — one consume per checkpoint directory without --partials.
 *
 * DIR/state.ckpt holds one instance's whole state; a second instance on
 * the same DIR would overwrite it with its own (and cut the outputs the
 * first one is appending to). A POSIX record lock on DIR/state.lock, held
 * until the process exits, makes the second one stop at its start instead.
 * The per-partition mode (--partials --checkpoint) shares DIR by design and
 * fences with owner epochs (ope/ckpt_claim.h), not with this lock.
 */
#ifndef GOPE_CLI_DIR_LOCK_H
#define GOPE_CLI_DIR_LOCK_H

/*! gope_dir_lock() : create `dir` if missing and lock DIR/state.lock for
 * this process (the lock goes with the process; the file stays and holds
 * the holder's pid). Prints the reason as "CMD: ..." on failure.
 * @return 0 locked, *fd the open file (keep it open);
 *         2 another process holds it (naming its pid);
 *         1 the directory or file cannot be made or locked. */
int gope_dir_lock(const char *dir, const char *cmd, int *fd);

#endif /* GOPE_CLI_DIR_LOCK_H */
