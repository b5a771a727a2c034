/*
 * The library's thread structure written in plain C (cpg_baseline_throughput_handoff, and the
 * receive-only cpg_baseline_handoff_receiver_*): tells the cost of that structure apart from the
 * cost of Swift. See CPGBaseline.h.
 *
 * Three threads, as in swift-cpg: the caller sends (cpgbench's loop); a reader thread waits in
 * poll() on libcpg's fd and dispatches CS_DISPATCH_ONE_NONBLOCKING until the ring is empty or 64
 * events (or 1 MiB) were read, copying each message into a buffer of its own, and wakes corosync
 * with a request after emptying the ring as the library's DeliveryNudge does; it hands the batch
 * to a consumer thread under one mutex, signalling the condition only when the consumer waits; the
 * consumer counts the own messages (throughput) or checks every message from others (receive
 * only: layout and each sender's sequence, as the Swift receiver does) and frees them. The reader
 * waits in poll() on this thread, where swift-cpg re-arms a DispatchSource (libdispatch's event
 * thread, then a queue's thread): if anything, this gives the C side fewer thread hand-offs than
 * the library has.
 */
#define _GNU_SOURCE

#include "CPGBaseline.h"
#include "internal.h"

#include <corosync/cpg.h>

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HANDOFF_BATCH 64
/* As the library's reader: a batch ends after a ring's worth of bytes too (IPC_DISPATCH_SIZE). */
#define HANDOFF_BATCH_BYTES (1 << 20)
/* As the library's DeliveryNudge: after emptying the ring, a request wakes corosync's loop once a
 * quarter of a ring or a message fragment has passed since the last one (else corosync may leave
 * events it queued behind a full ring for its 50 ms job timeout). */
#define HANDOFF_NUDGE_BYTES ((1 << 20) / 4)

struct handoff_item {
	struct handoff_item *next;
	uint32_t nodeid;
	uint32_t pid;
	size_t length;
	unsigned char bytes[];
};

struct handoff {
	cpg_handle_t handle;
	uint32_t nodeid;
	uint32_t pid;
	int fd;
	struct cpg_name name;
	/* Own messages to see back (throughput), or messages from others to receive (receive). */
	uint64_t count;
	int receive;
	/* Without a reader thread, the caller reads (cpg_baseline_handoff_read, from a DispatchSource). */
	int has_reader_thread;
	pthread_t reader_thread;
	pthread_t consumer_thread;

	/* The reader's batch, filled by on_deliver (on the reader thread only). */
	struct handoff_item *batch_head;
	struct handoff_item **batch_tail;
	int allocation_failed;
	size_t batch_bytes;
	uint64_t deliveries;
	size_t bytes_since_nudge;
	int fragment_since_nudge;

	/* The hand-off between reader and consumer. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct handoff_item *head;
	struct handoff_item **tail;
	int consumer_waits;
	int reader_ended;
	cs_error_t reader_status;

	/* Set by the consumer once the last message counted came; the reader then stops. */
	_Atomic int done;
	double done_at;
	uint64_t delivered;

	/* Receive only (consumer thread): first and last delivery from others, and the checks. */
	double first_at;
	uint64_t delivered_bytes;
	struct cpg_baseline_sequence_check check;
};

static void on_deliver(cpg_handle_t handle, const struct cpg_name *group, uint32_t nodeid, uint32_t pid,
		       void *msg, size_t len)
{
	struct handoff *h = NULL;
	struct handoff_item *item;

	(void)group;
	if (cpg_context_get(handle, (void **)&h) != CS_OK || h == NULL)
		return;
	item = malloc(sizeof(*item) + len);
	if (item == NULL) {
		h->allocation_failed = 1;
		return;
	}
	item->next = NULL;
	item->nodeid = nodeid;
	item->pid = pid;
	item->length = len;
	memcpy(item->bytes, msg, len);
	h->batch_bytes += len;
	h->bytes_since_nudge += len;
	h->deliveries++;
	*h->batch_tail = item;
	h->batch_tail = &item->next;
}

static void on_confchg(cpg_handle_t handle, const struct cpg_name *group, const struct cpg_address *members,
		       size_t member_count, const struct cpg_address *left, size_t left_count,
		       const struct cpg_address *joined, size_t joined_count)
{
	/* Membership changes are not counted here: the group is this member alone. */
	(void)handle, (void)group, (void)members, (void)member_count;
	(void)left, (void)left_count, (void)joined, (void)joined_count;
}

/* Appends the reader's batch to the shared list; one signal, and only if the consumer waits. */
static void hand_over(struct handoff *h, int ended, cs_error_t status)
{
	pthread_mutex_lock(&h->lock);
	if (h->batch_head != NULL) {
		*h->tail = h->batch_head;
		h->tail = h->batch_tail;
	}
	if (ended) {
		h->reader_ended = 1;
		h->reader_status = status;
	}
	if (h->consumer_waits && (h->batch_head != NULL || ended))
		pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	h->batch_head = NULL;
	h->batch_tail = &h->batch_head;
}

/*
 * Reads one batch: dispatches until the ring is empty (then wakes corosync if due) or the batch is
 * full, and hands the batch to the consumer. Returns 1 if the ring was emptied, 0 if the batch
 * filled first (events may wait in the ring with no byte left on the socket: read again without
 * waiting for the fd), or the failure's cs_error_t negated (the reader has ended then).
 */
static int read_batch(struct handoff *h)
{
	int drained = 0;
	cs_error_t status = CS_OK;

	h->batch_bytes = 0;
	for (int i = 0; i < HANDOFF_BATCH && h->batch_bytes < HANDOFF_BATCH_BYTES; i++) {
		uint64_t before = h->deliveries;
		cs_error_t err = cpg_dispatch(h->handle, CS_DISPATCH_ONE_NONBLOCKING);

		if (err == CS_ERR_TRY_AGAIN) {
			if (h->fragment_since_nudge || h->bytes_since_nudge >= HANDOFF_NUDGE_BYTES) {
				unsigned int local;

				(void)cpg_local_get(h->handle, &local);
				h->bytes_since_nudge = 0;
				h->fragment_since_nudge = 0;
			}
			drained = 1;
			break;
		}
		if (err != CS_OK) {
			status = err;
			break;
		}
		/* No message: a fragment libcpg keeps (or a membership change, rare here). */
		if (h->deliveries == before)
			h->fragment_since_nudge = 1;
	}
	if (h->allocation_failed)
		status = CS_ERR_NO_MEMORY;
	if (status != CS_OK) {
		hand_over(h, 1, status);
		return -(int)status;
	}
	hand_over(h, 0, CS_OK);
	return drained;
}

static void *reader_main(void *arg)
{
	struct handoff *h = arg;
	int more = 0;

	while (!atomic_load_explicit(&h->done, memory_order_acquire)) {
		struct pollfd p = {.fd = h->fd, .events = POLLIN};
		int result;

		/* A timeout only so that the thread sees `done` when nothing more comes. */
		if (!more && poll(&p, 1, 50) <= 0)
			continue;
		result = read_batch(h);
		if (result < 0)
			return NULL;
		more = result == 0;
	}
	hand_over(h, 1, CS_OK);
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct handoff *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct handoff_item *list;

		while (h->head == NULL && !h->reader_ended) {
			h->consumer_waits = 1;
			pthread_cond_wait(&h->cond, &h->lock);
			h->consumer_waits = 0;
		}
		if (h->head == NULL)
			break;
		list = h->head;
		h->head = NULL;
		h->tail = &h->head;
		pthread_mutex_unlock(&h->lock);
		while (list != NULL) {
			struct handoff_item *next = list->next;
			int own = list->nodeid == h->nodeid && list->pid == h->pid;

			if (h->receive && !own) {
				double now = cpg_baseline_now();

				if (h->delivered == 0)
					h->first_at = now;
				h->delivered_bytes += list->length;
				cpg_baseline_sequence_check_message(&h->check, list->nodeid, list->pid, list->bytes,
								    list->length);
				if (++h->delivered == h->count) {
					h->done_at = now;
					atomic_store_explicit(&h->done, 1, memory_order_release);
				}
			} else if (!h->receive && own && ++h->delivered == h->count) {
				h->done_at = cpg_baseline_now();
				atomic_store_explicit(&h->done, 1, memory_order_release);
			}
			free(list);
			list = next;
		}
		if (atomic_load_explicit(&h->done, memory_order_acquire))
			return NULL;
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Allocates the state, connects, joins `group` and starts the reader and consumer threads. */
static struct handoff *handoff_start(const char *group, uint64_t count, int receive, int reader_thread, int *status)
{
	struct handoff *h;
	cs_error_t err;

	if (strlen(group) > CPG_MAX_NAME_LENGTH) {
		*status = CS_ERR_NAME_TOO_LONG;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		*status = CS_ERR_NO_MEMORY;
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->batch_tail = &h->batch_head;
	h->tail = &h->head;
	h->count = count;
	h->receive = receive;
	h->reader_status = CS_OK;
	h->pid = (uint32_t)getpid();
	h->name.length = (uint32_t)strlen(group);
	memcpy(h->name.value, group, h->name.length);
	err = cpg_baseline_connect_and_join(&h->handle, on_deliver, on_confchg, h, &h->name, &h->nodeid, &h->fd);
	if (err != CS_OK)
		goto fail_free;
	h->has_reader_thread = reader_thread;
	if (reader_thread && pthread_create(&h->reader_thread, NULL, reader_main, h) != 0) {
		err = CS_ERR_NO_RESOURCES;
		goto fail_finalize;
	}
	if (pthread_create(&h->consumer_thread, NULL, consumer_main, h) != 0) {
		atomic_store(&h->done, 1);
		if (reader_thread)
			pthread_join(h->reader_thread, NULL);
		err = CS_ERR_NO_RESOURCES;
		goto fail_finalize;
	}
	*status = CPG_BASELINE_OK;
	return h;

fail_finalize:
	cpg_finalize(h->handle);
fail_free:
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h);
	*status = err;
	return NULL;
}

/* Leaves, finalizes and frees; both threads have returned. */
static void handoff_finish(struct handoff *h)
{
	cpg_leave(h->handle, &h->name);
	cpg_finalize(h->handle);
	while (h->head != NULL) {
		struct handoff_item *next = h->head->next;

		free(h->head);
		h->head = next;
	}
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h);
}

/* Stops both threads, whatever they are doing, then finishes. */
static void handoff_stop(struct handoff *h)
{
	atomic_store(&h->done, 1);
	/* Wake a consumer that waits for a batch that will not come. */
	pthread_mutex_lock(&h->lock);
	h->reader_ended = 1;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->consumer_thread, NULL);
	if (h->has_reader_thread)
		pthread_join(h->reader_thread, NULL);
	handoff_finish(h);
}

int cpg_baseline_throughput_handoff(const char *group, size_t size, uint64_t count, cpg_baseline_stats *out)
{
	struct handoff *h;
	unsigned char *buf;
	struct iovec iov;
	double start;
	uint64_t sent = 0;
	int status;

	memset(out, 0, sizeof(*out));
	out->status = CPG_BASELINE_OK;
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		return out->status = CS_ERR_NO_MEMORY;
	h = handoff_start(group, count, 0, 1, &status);
	if (h == NULL) {
		free(buf);
		return out->status = status;
	}
	cpg_baseline_fill(buf, size, 0, CPG_BASELINE_KIND_DATA);
	iov.iov_base = buf;
	iov.iov_len = size;

	cpg_baseline_counters_begin(out);
	start = cpg_baseline_now();
	while (sent < count) {
		cs_error_t err = cpg_mcast_joined(h->handle, CPG_TYPE_AGREED, &iov, 1);

		if (err == CS_OK) {
			sent++;
		} else if (err == CS_ERR_TRY_AGAIN) {
			out->try_again++;
		} else {
			out->status = err;
			atomic_store(&h->done, 1);
			break;
		}
	}
	/* The consumer returns after the last own message, or once the reader ended. */
	pthread_join(h->consumer_thread, NULL);
	cpg_baseline_counters_end(out);
	atomic_store(&h->done, 1);
	pthread_join(h->reader_thread, NULL);
	if (out->status == CPG_BASELINE_OK && h->reader_status != CS_OK)
		out->status = h->reader_status;
	if (out->status == CPG_BASELINE_OK && h->delivered != count)
		out->status = CS_ERR_MESSAGE_ERROR;
	out->wall_seconds = (out->status == CPG_BASELINE_OK ? h->done_at : cpg_baseline_now()) - start;
	out->messages = h->delivered;
	out->bytes = h->delivered * size;
	handoff_finish(h);
	free(buf);
	return out->status;
}

/* ---- receive only ------------------------------------------------------- */

struct cpg_baseline_handoff_receiver {
	struct handoff *h;
	/* Set once receive_wait joined the consumer (the reader, if a thread, stops on `done`). */
	int consumer_joined;
};

cpg_baseline_handoff_receiver *cpg_baseline_handoff_receiver_join(const char *group, uint64_t count, int reader_thread,
								 int *status)
{
	cpg_baseline_handoff_receiver *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		*status = CS_ERR_NO_MEMORY;
		return NULL;
	}
	r->h = handoff_start(group, count, 1, reader_thread, status);
	if (r->h == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

int cpg_baseline_handoff_receive_wait(cpg_baseline_handoff_receiver *r, double timeout_seconds,
				      cpg_baseline_stats *out)
{
	struct handoff *h = r->h;
	struct timespec deadline;
	cs_error_t reader_status;
	int joined;

	memset(out, 0, sizeof(*out));
	cpg_baseline_counters_begin(out);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)timeout_seconds;
	/* The consumer returns once it has `count` messages from others, or once the reader ended. */
	joined = pthread_timedjoin_np(h->consumer_thread, NULL, &deadline) == 0;
	cpg_baseline_counters_end(out);
	if (!joined) {
		out->status = CS_ERR_TIMEOUT;
		return out->status;
	}
	/* Joined: the consumer's fields are this thread's to read now. */
	r->consumer_joined = 1;
	atomic_store(&h->done, 1);
	out->status = CPG_BASELINE_OK;
	pthread_mutex_lock(&h->lock);
	reader_status = h->reader_status;
	pthread_mutex_unlock(&h->lock);
	if (reader_status != CS_OK)
		out->status = reader_status;
	else if (h->delivered != h->count)
		out->status = CS_ERR_MESSAGE_ERROR;
	out->messages = h->delivered;
	out->bytes = h->delivered_bytes;
	out->sequence_errors = h->check.sequence_errors;
	out->payload_errors = h->check.payload_errors;
	out->wall_seconds = h->done_at - h->first_at;
	return out->status;
}

void cpg_baseline_handoff_receiver_leave(cpg_baseline_handoff_receiver *r)
{
	struct handoff *h = r->h;

	if (r->consumer_joined) {
		if (h->has_reader_thread)
			pthread_join(h->reader_thread, NULL);
		handoff_finish(h);
	} else {
		handoff_stop(h);
	}
	free(r);
}

int cpg_baseline_handoff_fd(const cpg_baseline_handoff_receiver *r)
{
	return r->h->fd;
}

int cpg_baseline_handoff_read(cpg_baseline_handoff_receiver *r)
{
	if (atomic_load_explicit(&r->h->done, memory_order_acquire))
		return 1;
	return read_batch(r->h);
}
