/*
 * What baseline.c and handoff.c share, not part of CPGBaseline.h (which Swift imports).
 */
#ifndef CPG_BASELINE_INTERNAL_H
#define CPG_BASELINE_INTERNAL_H

#include <corosync/cpg.h>

#include "CPGBaseline.h"

/*
 * Connects (cpg_model_initialize, model v1 with `deliver` and `confchg`, `context` as the
 * handle's context), reads the local node id and libcpg's fd, and joins `name`, retrying
 * CS_ERR_TRY_AGAIN for up to 10 s. On failure the handle is finalized and the error returned.
 */
cs_error_t cpg_baseline_connect_and_join(cpg_handle_t *handle, cpg_deliver_fn_t deliver, cpg_confchg_fn_t confchg,
					 void *context, const struct cpg_name *name, uint32_t *nodeid, int *fd);

/*
 * Starts and ends a measured span in `out`: the process's CPU time and context switches and the
 * local daemon's CPU and totem counters (end leaves the differences).
 */
void cpg_baseline_counters_begin(cpg_baseline_stats *out);
void cpg_baseline_counters_end(cpg_baseline_stats *out);

/* What a receiver checks of every message from others: the layout (cpg_baseline_check) and each
 * sender's sequence of data messages. All zero to start. */
#define CPG_BASELINE_MAX_SENDERS 16

struct cpg_baseline_sender_track {
	uint32_t nodeid;
	uint32_t pid;
	uint64_t next_seq;
};

struct cpg_baseline_sequence_check {
	struct cpg_baseline_sender_track senders[CPG_BASELINE_MAX_SENDERS];
	unsigned sender_count;
	uint64_t sequence_errors;
	uint64_t payload_errors;
};

void cpg_baseline_sequence_check_message(struct cpg_baseline_sequence_check *check, uint32_t nodeid, uint32_t pid,
					 const unsigned char *msg, size_t len);

#endif
