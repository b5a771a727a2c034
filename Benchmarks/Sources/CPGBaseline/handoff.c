/*
 * The library's thread structure written in plain C (cpg_baseline_throughput_handoff): tells the
 * cost of that structure apart from the cost of Swift. See CPGBaseline.h.
 *
 * Three threads, as in swift-cpg: the caller sends (cpgbench's loop); a reader thread waits in
 * poll() on libcpg's fd and dispatches CS_DISPATCH_ONE_NONBLOCKING until the ring is empty or 64
 * events were read, copying each message into a buffer of its own; it hands the batch to a
 * consumer thread under one mutex, signalling the condition only when the consumer waits; the
 * consumer counts the own messages and frees them. The reader waits in poll() on this thread,
 * where swift-cpg re-arms a DispatchSource (libdispatch's event thread, then a queue's thread):
 * if anything, this gives the C side fewer thread hand-offs than the library has.
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
#include <unistd.h>

#define HANDOFF_BATCH 64

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
	uint64_t count;

	/* The reader's batch, filled by on_deliver (on the reader thread only). */
	struct handoff_item *batch_head;
	struct handoff_item **batch_tail;
	int allocation_failed;

	/* The hand-off between reader and consumer. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct handoff_item *head;
	struct handoff_item **tail;
	int consumer_waits;
	int reader_ended;
	cs_error_t reader_status;

	/* Set by the consumer once the last own message came back; the reader then stops. */
	_Atomic int done;
	double done_at;
	uint64_t delivered;
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

static void *reader_main(void *arg)
{
	struct handoff *h = arg;
	cs_error_t status = CS_OK;

	while (!atomic_load_explicit(&h->done, memory_order_acquire)) {
		struct pollfd p = {.fd = h->fd, .events = POLLIN};

		/* A timeout only so that the thread sees `done` when nothing more comes. */
		if (poll(&p, 1, 50) <= 0)
			continue;
		for (int i = 0; i < HANDOFF_BATCH; i++) {
			cs_error_t err = cpg_dispatch(h->handle, CS_DISPATCH_ONE_NONBLOCKING);

			if (err == CS_ERR_TRY_AGAIN)
				break;
			if (err != CS_OK) {
				status = err;
				break;
			}
		}
		if (h->allocation_failed)
			status = CS_ERR_NO_MEMORY;
		if (status != CS_OK)
			break;
		hand_over(h, 0, CS_OK);
	}
	hand_over(h, 1, status);
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

			if (list->nodeid == h->nodeid && list->pid == h->pid && ++h->delivered == h->count) {
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

int cpg_baseline_throughput_handoff(const char *group, size_t size, uint64_t count, cpg_baseline_stats *out)
{
	struct cpg_name name;
	struct handoff *h;
	pthread_t reader, consumer;
	unsigned char *buf;
	struct iovec iov;
	cs_error_t err;
	double start;
	uint64_t sent = 0;

	memset(out, 0, sizeof(*out));
	out->status = CPG_BASELINE_OK;
	if (strlen(group) > CPG_MAX_NAME_LENGTH)
		return out->status = CS_ERR_NAME_TOO_LONG;
	h = calloc(1, sizeof(*h));
	buf = malloc(size ? size : 1);
	if (h == NULL || buf == NULL) {
		free(h);
		free(buf);
		return out->status = CS_ERR_NO_MEMORY;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->batch_tail = &h->batch_head;
	h->tail = &h->head;
	h->count = count;
	h->pid = (uint32_t)getpid();
	cpg_baseline_fill(buf, size, 0, CPG_BASELINE_KIND_DATA);
	iov.iov_base = buf;
	iov.iov_len = size;
	name.length = (uint32_t)strlen(group);
	memcpy(name.value, group, name.length);

	err = cpg_baseline_connect_and_join(&h->handle, on_deliver, on_confchg, h, &name, &h->nodeid, &h->fd);
	if (err != CS_OK)
		goto fail_free;
	if (pthread_create(&reader, NULL, reader_main, h) != 0) {
		err = CS_ERR_NO_RESOURCES;
		goto fail_finalize;
	}
	if (pthread_create(&consumer, NULL, consumer_main, h) != 0) {
		atomic_store(&h->done, 1);
		pthread_join(reader, NULL);
		err = CS_ERR_NO_RESOURCES;
		goto fail_finalize;
	}

	cpg_baseline_counters_begin(out);
	start = cpg_baseline_now();
	while (sent < count) {
		err = cpg_mcast_joined(h->handle, CPG_TYPE_AGREED, &iov, 1);
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
	pthread_join(consumer, NULL);
	cpg_baseline_counters_end(out);
	atomic_store(&h->done, 1);
	pthread_join(reader, NULL);
	if (out->status == CPG_BASELINE_OK && h->reader_status != CS_OK)
		out->status = h->reader_status;
	if (out->status == CPG_BASELINE_OK && h->delivered != count)
		out->status = CS_ERR_MESSAGE_ERROR;
	out->wall_seconds = (out->status == CPG_BASELINE_OK ? h->done_at : cpg_baseline_now()) - start;
	out->messages = h->delivered;
	out->bytes = h->delivered * size;
	cpg_leave(h->handle, &name);
	err = CS_OK;

fail_finalize:
	cpg_finalize(h->handle);
fail_free:
	while (h->head != NULL) {
		struct handoff_item *next = h->head->next;

		free(h->head);
		h->head = next;
	}
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h);
	free(buf);
	if (err != CS_OK)
		out->status = err;
	return out->status;
}
