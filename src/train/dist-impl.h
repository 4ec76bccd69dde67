/* Private to src/train: the driver's side of a run over several processes (dist.c, MPI).
 *
 * Roles: rank 0 runs the driver as in a local run (the store, the plan, its own workers, the one
 * writer) plus a server thread that hands units to the other ranks and feeds the batches they
 * send back into the writer's sink. The other ranks run the family's workers on units they
 * receive, with a sink that sends every batch to rank 0. All MPI calls of a process happen on one
 * thread at a time (MPI_THREAD_SERIALIZED): the main thread before and after the run, the server
 * or the rank's communication thread during it; sends are non-blocking, so two ranks sending
 * large messages to each other never wait on each other. */
#ifndef MZ_TRAIN_DIST_IMPL_H
#define MZ_TRAIN_DIST_IMPL_H

#include "train/train-impl.h"

/* The rank's role in r's run (0: not distributed or a single process). */
int mz_dist_active(const mz_dist *d);

/* Every rank, after family.prepare: compares build, recipe and data across ranks and agrees
 * on whether the run goes ahead (the status of each rank's prepare included). Returns MZ_OK on
 * every rank, or the same error on every rank, naming the rank and host that caused it. */
mz_status mz_dist_handshake(mz_dist *d, mz_run *r, mz_status prepared, const mz_error *perr,
                            mz_error *err);

/* Rank 0's server: serves units and collects batches until every other rank has finished.
 * claim(ctx) gives the next unit's index (-1: none left, or the run is stopping). */
typedef struct mz_dist_root {
    mz_run *r;
    const mz_unit *units;
    int (*claim)(void *ctx);
    void *ctx;
    mz_sink *sink; /* the writer's */
} mz_dist_root;
void mz_dist_serve(mz_dist *d, const mz_dist_root *root);

/* The other ranks: runs r->threads workers on the units rank 0 hands out, until it has none left
 * or the run stops. Errors are sent to rank 0 (which stops the run). */
void mz_dist_work(mz_dist *d, mz_run *r);

/* Every rank, at the end: rank 0's final status and message, on every rank. */
mz_status mz_dist_agree(mz_dist *d, mz_status s, mz_error *err);

#endif
