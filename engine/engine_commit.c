/* engine_commit.c - the commit protocol: flush the nodes, wait until every
 * output is acknowledged, seal the state's changelog frames and wait for that
 * too (or commit the transaction that holds them all), checkpoint the nodes'
 * state, then commit the input offsets. */
#include "engine_impl.h"
#include "commit_phase.h"
#include "../util/log.h"
#include "../util/util.h"

#include <stdio.h>

static int txn_error(spate_engine_t *e, const char *what, rd_kafka_error_t *error) {
        spate_err("%s: %s", what, rd_kafka_error_string(error));
        if (rd_kafka_error_txn_requires_abort(error))
                rd_kafka_abort_transaction(e->producer, 30000);
        rd_kafka_error_destroy(error);
        e->txn = 0;
        e->failed = 1;  /* restart: the aborted input is replayed */
        return -1;
}

int spate_engine_txn_begin(spate_engine_t *e) {
        rd_kafka_error_t *error = rd_kafka_begin_transaction(e->producer);
        if (error)
                return txn_error(e, "begin transaction", error);
        e->txn = 1;
        return 0;
}

/* exactly_once: the commit's outputs, changelog records and input offsets
 * become visible together, and a zombie's are fenced. */
static int txn_commit(spate_engine_t *e, rd_kafka_topic_partition_list_t *offs) {
        if (spate_engine_send_outputs(e))
                return -1;
        rd_kafka_consumer_group_metadata_t *gm = rd_kafka_consumer_group_metadata(e->consumer);
        rd_kafka_error_t *error = NULL;
        if (offs->cnt)
                error = rd_kafka_send_offsets_to_transaction(e->producer, offs, gm, 30000);
        rd_kafka_consumer_group_metadata_destroy(gm);
        if (error)
                return txn_error(e, "send offsets to transaction", error);
        if ((error = rd_kafka_commit_transaction(e->producer, e->stop ? 10000 : 60000)))
                return txn_error(e, "commit transaction", error);
        e->txn = 0;
        return 0;
}

/* Waits until the producer has every output acknowledged. */
void spate_engine_drain_acks(spate_engine_t *e) {
        spate_engine_send_outputs(e);
        /* At shutdown the broker may be gone: wait a bounded time - counted
         * from the stop request, which may come while already waiting - and
         * then commit nothing, so the uncommitted input is replayed on restart. */
        while (!e->failed && rd_kafka_outq_len(e->producer) > 0) {
                if (spate_engine_stop_deadline_passed(e)) {
                        spate_err("outputs not acknowledged within %d s of shutdown; input offsets "
                                  "are not committed (it will be replayed)", SHUTDOWN_ACK_MS / 1000);
                        e->failed = 1;
                        break;
                }
                /* flush, not poll: while it runs the producer sends what it
                 * holds without waiting out linger.ms, so a commit does not
                 * pause the input for a linger on top of the round trip. */
                rd_kafka_flush(e->producer, 50);
        }
}

int spate_engine_ctx_wait_acks(spate_ctx_t *ctx) {
        spate_engine_t *e = ctx->engine;
        spate_engine_drain_acks(e);
        if (!e->failed)
                return 0;
        snprintf(ctx->errstr, sizeof(ctx->errstr), "output was not delivered");
        return -1;
}

/* Commits the processed offsets of assigned partitions once every output
 * derived from them is acknowledged (exactly_once: in the transaction that
 * holds those outputs; the offsets are then also committed plainly, which is
 * what a broker whose transactions are a shell - the embedded one - keeps). */
int spate_engine_commit(spate_engine_t *e) {
        rd_kafka_topic_partition_list_t *offs;
        rd_kafka_resp_err_t err;
        int rc = 0;
        double t0 = spate_engine_mono_s();

        if (spate_commit_phase_run(e->topo, SPATE_PHASE_FLUSH, &e->ctx))
                e->failed = 1;
        offs = spate_engine_offsets_to_commit(e);
        if (e->txn && !e->failed) {
                /* One transaction: the frames count only if it commits. */
                if (spate_commit_phase_run(e->topo, SPATE_PHASE_SEAL, &e->ctx))
                        e->failed = 1;
                else
                        txn_commit(e, offs);
        } else {
                spate_engine_drain_acks(e);
                if (!e->failed && spate_commit_phase_run(e->topo, SPATE_PHASE_SEAL, &e->ctx))
                        e->failed = 1;
                spate_engine_drain_acks(e);
        }
        if (!e->failed && spate_commit_phase_run(e->topo, SPATE_PHASE_CHECKPOINT, &e->ctx))
                e->failed = 1;
        for (int i = 0; i < e->nsources; i++) {
                e->sources[i].held = e->sources[i].hold;
                e->sources[i].hold = 0;
        }
        if (e->failed) {
                rd_kafka_topic_partition_list_destroy(offs);
                return -1;
        }
        err = offs->cnt ? rd_kafka_commit(e->consumer, offs, 0) : 0;
        if (err) {
                spate_warn("offset commit failed: %s (will retry)", rd_kafka_err2str(err));
                rc = -1;
        } else {
                for (int i = 0; i < offs->cnt; i++) {
                        source_t *s = spate_engine_source_for(e, offs->elems[i].topic);
                        task_t *t = spate_engine_task_for(s, offs->elems[i].partition);
                        t->committed = offs->elems[i].offset;
                        if (s->held)
                                continue;  /* the committed offset again: its times stay */
                        t->times_changed = 0;
                        for (int k = 0; t->vals && k < e->topo->nnodes; k++)
                                t->vals[k].ctime = t->vals[k].time;
                }
                e->stats.commits += offs->cnt > 0;
        }
        rd_kafka_topic_partition_list_destroy(offs);
        if (e->topo->exactly_once && !e->stop && !e->txn)
                spate_engine_txn_begin(e);
        e->last_commit = spate_mono_ms();
        e->commit_asap = 0;
        if (e->m_commit)
                spate_histogram_observe(e->m_commit, spate_engine_mono_s() - t0);
        return rc;
}
