/*
 * CPGBaseline: the raw-C libcpg yardstick for swift-cpg's benchmarks. See CPGBaseline.h.
 */
#define _GNU_SOURCE

#include "CPGBaseline.h"
#include "internal.h"

#include <corosync/cpg.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct cpg_baseline_member {
	cpg_handle_t handle;
	struct cpg_name name;
	uint32_t nodeid;
	uint32_t pid;
	int fd;

	int has_thread;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;

	/* Written by whoever dispatches (the dispatch thread, or the caller). */
	_Atomic uint64_t own_delivered;
	_Atomic uint64_t own_target;
	double own_done_at;

	_Atomic uint64_t others_delivered;
	_Atomic uint64_t others_target;
	uint64_t others_bytes;
	double first_other_at;
	double last_other_at;
	struct cpg_baseline_sequence_check check;

	_Atomic unsigned members;
	_Atomic unsigned members_target;
	_Atomic int left;
	/* The first CPG_REASON_NODEDOWN left entry since the last reset: when (CLOCK_MONOTONIC ns,
	 * taken in the confchg callback) and which node. */
	_Atomic uint64_t nodedown_at_ns;
	_Atomic uint32_t nodedown_nodeid;
	/* Set by the dispatch thread when it finalized the handle after the own leave. */
	_Atomic int finalized_by_thread;

	/* Ping-pong. */
	uint64_t echo_seq;
	int echo_seen;
	unsigned char *echo_buf;
	size_t echo_cap;
	uint64_t echo_try_again;
	int echo_status;
};

/* ---- helpers ------------------------------------------------------------ */

double cpg_baseline_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t cpg_baseline_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void cpg_baseline_cpu_seconds(double *user, double *system)
{
	struct rusage usage;

	getrusage(RUSAGE_SELF, &usage);
	*user = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6;
	*system = (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

uint64_t cpg_baseline_context_switches(void)
{
	struct rusage usage;

	getrusage(RUSAGE_SELF, &usage);
	return (uint64_t)usage.ru_nvcsw + (uint64_t)usage.ru_nivcsw;
}

static _Atomic int watched_daemon;

void cpg_baseline_watch_daemon(int pid)
{
	atomic_store(&watched_daemon, pid);
}

void cpg_baseline_daemon_counters(cpg_baseline_stats *out, int sign)
{
	int pid = atomic_load(&watched_daemon);
	uint64_t tokens = 0, packets = 0;
	double cpu;

	if (pid <= 0 || (cpu = cpg_baseline_process_cpu_seconds(pid)) < 0 ||
	    cpg_baseline_totem_counters(&tokens, &packets) != CS_OK)
		return;
	out->daemon_cpu_seconds += sign * cpu;
	out->token_rotations += sign * tokens;
	out->packets_sent += sign * packets;
}

void cpg_baseline_counters_begin(cpg_baseline_stats *out)
{
	cpg_baseline_daemon_counters(out, -1);
	cpg_baseline_cpu_seconds(&out->user_seconds, &out->system_seconds);
	out->context_switches = cpg_baseline_context_switches();
}

void cpg_baseline_counters_end(cpg_baseline_stats *out)
{
	double user, system;

	cpg_baseline_cpu_seconds(&user, &system);
	out->user_seconds = user - out->user_seconds;
	out->system_seconds = system - out->system_seconds;
	out->context_switches = cpg_baseline_context_switches() - out->context_switches;
	cpg_baseline_daemon_counters(out, 1);
}

static void stats_begin(cpg_baseline_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->status = CPG_BASELINE_OK;
	cpg_baseline_counters_begin(out);
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void cpg_baseline_fill(unsigned char *buf, size_t size, uint64_t seq, unsigned char kind)
{
	if (size < 9) {
		memset(buf, (int)(seq & 0xff), size);
		return;
	}
	put_u64(buf, seq);
	buf[8] = kind;
	memset(buf + 9, (int)(seq & 0xff), size - 9);
	if (size >= 24)
		put_u64(buf + size - 8, seq);
}

int cpg_baseline_check(const unsigned char *buf, size_t size, uint64_t *seq, unsigned char *kind)
{
	if (size < 9)
		return 0;
	*seq = get_u64(buf);
	*kind = buf[8];
	if (size > 9 && buf[9] != (unsigned char)(*seq & 0xff))
		return 0;
	if (size >= 24) {
		if (get_u64(buf + size - 8) != *seq)
			return 0;
		if (buf[size - 9] != (unsigned char)(*seq & 0xff))
			return 0;
	}
	return 1;
}

static long status_field_kib(const char *path, const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long value = -1;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, len) == 0 && line[len] == ':') {
			value = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

long cpg_baseline_peak_rss_kib(void)
{
	return status_field_kib("/proc/self/status", "VmHWM");
}

long cpg_baseline_rss_kib(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return status_field_kib(path, "VmRSS");
}

static void wake(cpg_baseline_member *m)
{
	if (!m->has_thread)
		return;
	pthread_mutex_lock(&m->lock);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

/* ---- callbacks ---------------------------------------------------------- */

static cpg_baseline_member *member_of(cpg_handle_t handle)
{
	void *context = NULL;

	if (cpg_context_get(handle, &context) != CS_OK)
		return NULL;
	return context;
}

void cpg_baseline_sequence_check_message(struct cpg_baseline_sequence_check *check, uint32_t nodeid, uint32_t pid,
					 const unsigned char *msg, size_t len)
{
	uint64_t seq;
	unsigned char kind;
	struct cpg_baseline_sender_track *track = NULL;

	if (!cpg_baseline_check(msg, len, &seq, &kind)) {
		check->sequence_errors++;
		check->payload_errors++;
		return;
	}
	if (kind != CPG_BASELINE_KIND_DATA)
		return;
	for (unsigned i = 0; i < check->sender_count; i++) {
		if (check->senders[i].nodeid == nodeid && check->senders[i].pid == pid) {
			track = &check->senders[i];
			break;
		}
	}
	if (track == NULL) {
		if (check->sender_count == CPG_BASELINE_MAX_SENDERS) {
			check->sequence_errors++;
			return;
		}
		track = &check->senders[check->sender_count++];
		track->nodeid = nodeid;
		track->pid = pid;
		track->next_seq = 0;
	}
	if (seq != track->next_seq)
		check->sequence_errors++;
	track->next_seq = seq + 1;
}

static void send_echo(cpg_baseline_member *m, const void *msg, size_t len)
{
	struct iovec iov;
	cs_error_t err;

	if (m->echo_cap < len) {
		free(m->echo_buf);
		m->echo_buf = malloc(len);
		m->echo_cap = m->echo_buf ? len : 0;
		if (m->echo_buf == NULL) {
			m->echo_status = CS_ERR_NO_MEMORY;
			return;
		}
	}
	memcpy(m->echo_buf, msg, len);
	m->echo_buf[8] = CPG_BASELINE_KIND_ECHO;
	iov.iov_base = m->echo_buf;
	iov.iov_len = len;
	while ((err = cpg_mcast_joined(m->handle, CPG_TYPE_AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN)
		m->echo_try_again++;
	if (err != CS_OK && m->echo_status == CPG_BASELINE_OK)
		m->echo_status = err;
}

static void on_deliver(cpg_handle_t handle, const struct cpg_name *group, uint32_t nodeid, uint32_t pid,
		       void *msg, size_t len)
{
	cpg_baseline_member *m = member_of(handle);
	const unsigned char *bytes = msg;

	(void)group;
	if (m == NULL)
		return;
	if (nodeid == m->nodeid && pid == m->pid) {
		uint64_t delivered = atomic_load_explicit(&m->own_delivered, memory_order_relaxed) + 1;

		atomic_store_explicit(&m->own_delivered, delivered, memory_order_release);
		if (delivered == atomic_load_explicit(&m->own_target, memory_order_acquire)) {
			m->own_done_at = cpg_baseline_now();
			wake(m);
		}
		return;
	}
	if (len >= 9 && bytes[8] == CPG_BASELINE_KIND_PING) {
		send_echo(m, msg, len);
		return;
	}
	if (len >= 9 && bytes[8] == CPG_BASELINE_KIND_ECHO) {
		m->echo_seq = get_u64(bytes);
		m->echo_seen = 1;
		return;
	}
	{
		uint64_t delivered = atomic_load_explicit(&m->others_delivered, memory_order_relaxed) + 1;
		double now = cpg_baseline_now();

		if (delivered == 1)
			m->first_other_at = now;
		m->last_other_at = now;
		m->others_bytes += len;
		cpg_baseline_sequence_check_message(&m->check, nodeid, pid, bytes, len);
		atomic_store_explicit(&m->others_delivered, delivered, memory_order_release);
		if (delivered == atomic_load_explicit(&m->others_target, memory_order_acquire))
			wake(m);
	}
}

static void on_confchg(cpg_handle_t handle, const struct cpg_name *group, const struct cpg_address *members,
		       size_t member_count, const struct cpg_address *left, size_t left_count,
		       const struct cpg_address *joined, size_t joined_count)
{
	cpg_baseline_member *m = member_of(handle);

	(void)group;
	(void)members;
	(void)joined;
	(void)joined_count;
	if (m == NULL)
		return;
	atomic_store(&m->members, (unsigned)member_count);
	for (size_t i = 0; i < left_count; i++) {
		if (left[i].reason == CPG_REASON_NODEDOWN && atomic_load(&m->nodedown_at_ns) == 0) {
			atomic_store(&m->nodedown_nodeid, left[i].nodeid);
			atomic_store(&m->nodedown_at_ns, cpg_baseline_now_ns());
		}
		if (left[i].nodeid == m->nodeid && left[i].pid == m->pid) {
			if (m->has_thread) {
				/* The only way out of CS_DISPATCH_BLOCKING: finalize from inside a callback,
				 * and cpg_dispatch returns when the callback does. */
				cpg_finalize(handle);
				atomic_store(&m->finalized_by_thread, 1);
			}
			atomic_store(&m->left, 1);
		}
	}
	wake(m);
}

static void *dispatch_main(void *arg)
{
	cpg_baseline_member *m = arg;

	/* Returns once the handle is finalized (on_confchg does so at the own leave) or the
	 * connection fails. */
	cpg_dispatch(m->handle, CS_DISPATCH_BLOCKING);
	return NULL;
}

/* Waits on the member's condition until `done(m)` or the deadline; 1 if done. */
static int wait_until(cpg_baseline_member *m, int (*done)(cpg_baseline_member *), double timeout_seconds)
{
	struct timespec deadline;
	int ok;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)timeout_seconds;
	deadline.tv_nsec += (long)((timeout_seconds - (double)(time_t)timeout_seconds) * 1e9);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->lock);
	while (!(ok = done(m))) {
		if (pthread_cond_timedwait(&m->cond, &m->lock, &deadline) == ETIMEDOUT) {
			ok = done(m);
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return ok;
}

/* For members without a dispatch thread: dispatch until `done(m)` or the deadline. */
static int dispatch_until(cpg_baseline_member *m, int (*done)(cpg_baseline_member *), double timeout_seconds)
{
	double deadline = cpg_baseline_now() + timeout_seconds;

	while (!done(m)) {
		cs_error_t err = cpg_dispatch(m->handle, CS_DISPATCH_ONE_NONBLOCKING);

		if (err == CS_ERR_TRY_AGAIN) {
			struct pollfd pfd = {.fd = m->fd, .events = POLLIN};
			double left = deadline - cpg_baseline_now();

			if (left <= 0)
				return 0;
			poll(&pfd, 1, (int)(left * 1000) + 1);
		} else if (err != CS_OK) {
			return 0;
		}
	}
	return 1;
}

static int own_done(cpg_baseline_member *m)
{
	return atomic_load(&m->own_delivered) >= atomic_load(&m->own_target);
}

static int others_done(cpg_baseline_member *m)
{
	return atomic_load(&m->others_delivered) >= atomic_load(&m->others_target);
}

static int members_done(cpg_baseline_member *m)
{
	return atomic_load(&m->members) >= atomic_load(&m->members_target);
}

static int left_done(cpg_baseline_member *m)
{
	return atomic_load(&m->left);
}

static int echo_done(cpg_baseline_member *m)
{
	return m->echo_seen;
}

static int nodedown_done(cpg_baseline_member *m)
{
	return atomic_load(&m->nodedown_at_ns) != 0;
}

/* ---- network namespaces ------------------------------------------------- */

struct netns_job {
	const char *path;
	void (*body)(void *);
	void *arg;
	int error;
};

static void *netns_main(void *arg)
{
	struct netns_job *job = arg;
	int fd = open(job->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		job->error = errno;
		return NULL;
	}
	if (setns(fd, CLONE_NEWNET) != 0) {
		job->error = errno;
		close(fd);
		return NULL;
	}
	close(fd);
	job->body(job->arg);
	return NULL;
}

/*
 * Runs body(arg) on a new thread that first entered the network namespace at `path` (libqb's IPC
 * sockets are abstract unix sockets, one set per network namespace: a connection made there
 * reaches that namespace's corosync and keeps it). A thread of its own, because setns changes the
 * calling thread for good; threads it starts inherit the namespace. Returns 0 or an errno value.
 */
static int run_in_network_namespace(const char *path, void (*body)(void *), void *arg)
{
	struct netns_job job = {.path = path, .body = body, .arg = arg, .error = 0};
	pthread_t thread;
	int error;

	if (path == NULL) {
		body(arg);
		return 0;
	}
	if ((error = pthread_create(&thread, NULL, netns_main, &job)) != 0)
		return error;
	pthread_join(thread, NULL);
	return job.error;
}

/* ---- members ------------------------------------------------------------ */

cs_error_t cpg_baseline_connect_and_join(cpg_handle_t *handle, cpg_deliver_fn_t deliver, cpg_confchg_fn_t confchg,
					 void *context, const struct cpg_name *name, uint32_t *nodeid, int *fd)
{
	cpg_model_v1_data_t model;
	cs_error_t err;
	double deadline;

	memset(&model, 0, sizeof(model));
	model.model = CPG_MODEL_V1;
	model.cpg_deliver_fn = deliver;
	model.cpg_confchg_fn = confchg;
	err = cpg_model_initialize(handle, CPG_MODEL_V1, (cpg_model_data_t *)&model, context);
	if (err != CS_OK)
		return err;
	if ((err = cpg_local_get(*handle, nodeid)) != CS_OK || (err = cpg_fd_get(*handle, fd)) != CS_OK)
		goto fail;
	deadline = cpg_baseline_now() + 10.0;
	while ((err = cpg_join(*handle, name)) == CS_ERR_TRY_AGAIN && cpg_baseline_now() < deadline)
		usleep(5000);
	if (err == CS_OK)
		return CS_OK;
fail:
	cpg_finalize(*handle);
	return err;
}

cpg_baseline_member *cpg_baseline_join(const char *group, int dispatch_thread, int *status)
{
	cpg_baseline_member *m;
	cs_error_t err;

	if (strlen(group) > CPG_MAX_NAME_LENGTH) {
		*status = CS_ERR_NAME_TOO_LONG;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		*status = CS_ERR_NO_MEMORY;
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	atomic_store(&m->own_target, UINT64_MAX);
	atomic_store(&m->others_target, UINT64_MAX);
	m->echo_status = CPG_BASELINE_OK;
	m->name.length = (uint32_t)strlen(group);
	memcpy(m->name.value, group, m->name.length);
	m->pid = (uint32_t)getpid();

	err = cpg_baseline_connect_and_join(&m->handle, on_deliver, on_confchg, m, &m->name, &m->nodeid, &m->fd);
	if (err != CS_OK)
		goto fail_free;
	if (dispatch_thread) {
		m->has_thread = 1;
		if (pthread_create(&m->thread, NULL, dispatch_main, m) != 0) {
			m->has_thread = 0;
			err = CS_ERR_NO_RESOURCES;
			goto fail_finalize;
		}
	}
	*status = CPG_BASELINE_OK;
	return m;

fail_finalize:
	cpg_finalize(m->handle);
fail_free:
	free(m);
	*status = err;
	return NULL;
}

void cpg_baseline_reset_nodedown(cpg_baseline_member *m)
{
	atomic_store(&m->nodedown_nodeid, 0);
	atomic_store(&m->nodedown_at_ns, 0);
}

int cpg_baseline_wait_nodedown(cpg_baseline_member *m, double timeout_seconds, uint64_t *at_ns, uint32_t *nodeid)
{
	int ok;

	if (m->has_thread)
		ok = wait_until(m, nodedown_done, timeout_seconds);
	else
		ok = dispatch_until(m, nodedown_done, timeout_seconds);
	*at_ns = atomic_load(&m->nodedown_at_ns);
	*nodeid = atomic_load(&m->nodedown_nodeid);
	return ok ? CPG_BASELINE_OK : CS_ERR_TIMEOUT;
}

uint32_t cpg_baseline_pid(const cpg_baseline_member *m)
{
	return m->pid;
}

uint32_t cpg_baseline_nodeid(const cpg_baseline_member *m)
{
	return m->nodeid;
}

int cpg_baseline_fd(const cpg_baseline_member *m)
{
	return m->fd;
}

int cpg_baseline_wait_members(cpg_baseline_member *m, unsigned members, double timeout_seconds)
{
	int ok;

	atomic_store(&m->members_target, members);
	if (m->has_thread)
		ok = wait_until(m, members_done, timeout_seconds);
	else
		ok = dispatch_until(m, members_done, timeout_seconds);
	return ok ? CPG_BASELINE_OK : CS_ERR_TIMEOUT;
}

int cpg_baseline_leave(cpg_baseline_member *m)
{
	cs_error_t err;
	double deadline = cpg_baseline_now() + 5.0;

	while ((err = cpg_leave(m->handle, &m->name)) == CS_ERR_TRY_AGAIN && cpg_baseline_now() < deadline)
		usleep(1000);
	if (err == CS_OK) {
		if (m->has_thread)
			wait_until(m, left_done, 5.0);
		else
			dispatch_until(m, left_done, 5.0);
	}
	if (m->has_thread) {
		if (!atomic_load(&m->finalized_by_thread)) {
			/* No own leave came back: finalize here and stop the blocked thread (cpghum's way). */
			cpg_finalize(m->handle);
			pthread_cancel(m->thread);
		}
		pthread_join(m->thread, NULL);
	} else {
		cpg_finalize(m->handle);
	}
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m->echo_buf);
	free(m);
	return err == CS_OK ? CPG_BASELINE_OK : err;
}

/* ---- sending ------------------------------------------------------------ */

/* Sends `n` copies of `iov`, retrying CS_ERR_TRY_AGAIN at once (cpgbench's loop). With `lock`,
 * each call holds it. When `fill` is set, message i gets sequence number first + i. */
static cs_error_t send_loop(cpg_handle_t handle, pthread_mutex_t *lock, unsigned char *buf, size_t size,
			    uint64_t first, uint64_t n, int fill, uint64_t *try_again)
{
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	uint64_t sent = 0;
	cs_error_t err;

	while (sent < n) {
		if (fill)
			cpg_baseline_fill(buf, size, first + sent, CPG_BASELINE_KIND_DATA);
		if (lock)
			pthread_mutex_lock(lock);
		err = cpg_mcast_joined(handle, CPG_TYPE_AGREED, &iov, 1);
		if (lock)
			pthread_mutex_unlock(lock);
		if (err == CS_OK) {
			sent++;
		} else if (err == CS_ERR_TRY_AGAIN) {
			(*try_again)++;
		} else {
			return err;
		}
	}
	return CS_OK;
}

static uint64_t (*_Atomic thread_allocations_reader)(void);

void cpg_baseline_set_thread_allocations(uint64_t (*count)(void))
{
	atomic_store(&thread_allocations_reader, count);
}

struct sender_job {
	cpg_handle_t handle;
	pthread_mutex_t *lock;
	size_t size;
	uint64_t count;
	uint64_t try_again;
	cs_error_t status;
	/* The sending thread's CPU seconds and allocations over send_loop. */
	double cpu_seconds;
	uint64_t allocations;
};

double cpg_baseline_thread_cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cpg_baseline_thread_id(void)
{
	return (int)gettid();
}

static uint64_t thread_allocations(void)
{
	uint64_t (*count)(void) = atomic_load(&thread_allocations_reader);

	return count ? count() : 0;
}

static void *sender_main(void *arg)
{
	struct sender_job *job = arg;
	unsigned char *buf = malloc(job->size ? job->size : 1);
	double cpu;
	uint64_t allocations;

	if (buf == NULL) {
		job->status = CS_ERR_NO_MEMORY;
		return NULL;
	}
	cpg_baseline_fill(buf, job->size, 0, CPG_BASELINE_KIND_DATA);
	cpu = cpg_baseline_thread_cpu_seconds();
	allocations = thread_allocations();
	job->status = send_loop(job->handle, job->lock, buf, job->size, 0, job->count, 0, &job->try_again);
	job->allocations = thread_allocations() - allocations;
	job->cpu_seconds = cpg_baseline_thread_cpu_seconds() - cpu;
	free(buf);
	return NULL;
}

int cpg_baseline_throughput(const char *group, size_t size, uint64_t count, cpg_baseline_stats *out)
{
	return cpg_baseline_throughput_senders(group, size, count, 1, out);
}

/* The throughput pipeline; with `members` > 1 it first waits (up to 60 s) until the group has that
 * many members, before the clock starts. */
static int throughput(const char *group, size_t size, uint64_t count, unsigned senders, unsigned members,
		      cpg_baseline_stats *out)
{
	int status;
	cpg_baseline_member *m;
	struct sender_job *jobs;
	pthread_t *threads;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	double start;

	memset(out, 0, sizeof(*out));
	if (senders == 0)
		senders = 1;
	m = cpg_baseline_join(group, 1, &status);
	if (m == NULL) {
		out->status = status;
		return status;
	}
	if (members > 1 && (status = cpg_baseline_wait_members(m, members, 60.0)) != CPG_BASELINE_OK) {
		out->status = status;
		cpg_baseline_leave(m);
		return status;
	}
	jobs = calloc(senders, sizeof(*jobs));
	threads = calloc(senders, sizeof(*threads));
	atomic_store(&m->own_target, count);

	stats_begin(out);
	start = cpg_baseline_now();
	for (unsigned i = 0; i < senders; i++) {
		jobs[i].handle = m->handle;
		jobs[i].lock = senders > 1 ? &lock : NULL;
		jobs[i].size = size;
		jobs[i].count = count / senders + (i < count % senders ? 1 : 0);
		jobs[i].status = CS_OK;
	}
	if (senders == 1) {
		/* The calling thread sends; the dispatch thread receives. */
		sender_main(&jobs[0]);
	} else {
		for (unsigned i = 0; i < senders; i++)
			pthread_create(&threads[i], NULL, sender_main, &jobs[i]);
		for (unsigned i = 0; i < senders; i++)
			pthread_join(threads[i], NULL);
	}
	for (unsigned i = 0; i < senders; i++) {
		out->try_again += jobs[i].try_again;
		if (jobs[i].status != CS_OK && out->status == CPG_BASELINE_OK)
			out->status = jobs[i].status;
	}
	if (senders == 1) {
		out->sender_cpu_seconds = jobs[0].cpu_seconds;
		out->sender_allocations = jobs[0].allocations;
	}
	if (out->status == CPG_BASELINE_OK && !wait_until(m, own_done, 120.0))
		out->status = CS_ERR_TIMEOUT;
	cpg_baseline_counters_end(out);
	out->wall_seconds = (out->status == CPG_BASELINE_OK ? m->own_done_at : cpg_baseline_now()) - start;
	out->messages = atomic_load(&m->own_delivered);
	out->bytes = out->messages * size;
	free(jobs);
	free(threads);
	cpg_baseline_leave(m);
	return out->status;
}

int cpg_baseline_throughput_senders(const char *group, size_t size, uint64_t count, unsigned senders,
				    cpg_baseline_stats *out)
{
	return throughput(group, size, count, senders, 0, out);
}

struct throughput_job {
	const char *group;
	size_t size;
	uint64_t count;
	unsigned senders;
	unsigned members;
	cpg_baseline_stats *out;
};

static void throughput_body(void *arg)
{
	struct throughput_job *job = arg;

	throughput(job->group, job->size, job->count, job->senders, job->members, job->out);
}

int cpg_baseline_throughput_in(const char *netns, const char *group, size_t size, uint64_t count, unsigned senders,
			       unsigned members, cpg_baseline_stats *out)
{
	struct throughput_job job = {
		.group = group, .size = size, .count = count, .senders = senders, .members = members, .out = out};

	memset(out, 0, sizeof(*out));
	if (run_in_network_namespace(netns, throughput_body, &job) != 0)
		out->status = CS_ERR_LIBRARY;
	return out->status;
}

int cpg_baseline_send(cpg_baseline_member *m, size_t size, uint64_t count, cpg_baseline_stats *out)
{
	unsigned char *buf = malloc(size ? size : 1);
	double start;
	cs_error_t err;

	stats_begin(out);
	if (buf == NULL) {
		out->status = CS_ERR_NO_MEMORY;
		return out->status;
	}
	atomic_store(&m->own_delivered, 0);
	atomic_store(&m->own_target, count);
	start = cpg_baseline_now();
	err = send_loop(m->handle, NULL, buf, size, 0, count, 1, &out->try_again);
	free(buf);
	if (err != CS_OK) {
		out->status = err;
	} else if (m->has_thread) {
		if (!wait_until(m, own_done, 300.0))
			out->status = CS_ERR_TIMEOUT;
	} else if (!dispatch_until(m, own_done, 300.0)) {
		out->status = CS_ERR_TIMEOUT;
	}
	cpg_baseline_counters_end(out);
	out->wall_seconds = cpg_baseline_now() - start;
	out->messages = count;
	out->bytes = count * size;
	return out->status;
}

int cpg_baseline_spin_until_pushback(cpg_baseline_member *m, size_t size, double seconds,
				     cpg_baseline_stats *out)
{
	unsigned char *buf;
	struct iovec iov;
	double spin_start = 0, deadline = cpg_baseline_now() + 60.0;
	cs_error_t err;

	memset(out, 0, sizeof(*out));
	out->status = CPG_BASELINE_OK;
	if (m->has_thread) {
		out->status = CS_ERR_INVALID_PARAM;
		return out->status;
	}
	buf = calloc(1, size ? size : 1);
	if (buf == NULL) {
		out->status = CS_ERR_NO_MEMORY;
		return out->status;
	}
	cpg_baseline_fill(buf, size, 0, CPG_BASELINE_KIND_DATA);
	iov.iov_base = buf;
	iov.iov_len = size;
	for (;;) {
		err = cpg_mcast_joined(m->handle, CPG_TYPE_AGREED, &iov, 1);
		if (err == CS_OK) {
			if (out->try_again == 0)
				out->messages++;
		} else if (err == CS_ERR_TRY_AGAIN) {
			if (out->try_again++ == 0) {
				uint64_t accepted = out->messages;

				stats_begin(out);
				out->messages = accepted;
				out->try_again = 1;
				spin_start = cpg_baseline_now();
			}
		} else {
			out->status = err;
			break;
		}
		if (out->try_again > 0) {
			if ((out->try_again & 1023) == 0 && cpg_baseline_now() - spin_start >= seconds)
				break;
		} else if (cpg_baseline_now() > deadline) {
			out->status = CS_ERR_TIMEOUT;
			break;
		}
	}
	if (out->try_again > 0) {
		cpg_baseline_counters_end(out);
		out->wall_seconds = cpg_baseline_now() - spin_start;
	}
	out->bytes = out->messages * size;
	free(buf);
	return out->status;
}

int cpg_baseline_flow_control_spin(const char *group, size_t size, double seconds, cpg_baseline_stats *out)
{
	int status;
	cpg_baseline_member *m = cpg_baseline_join(group, 0, &status);

	if (m == NULL) {
		memset(out, 0, sizeof(*out));
		out->status = status;
		return status;
	}
	status = cpg_baseline_spin_until_pushback(m, size, seconds, out);
	cpg_baseline_leave(m);
	return status;
}

/* ---- receiving ---------------------------------------------------------- */

void cpg_baseline_receive_begin(cpg_baseline_member *m)
{
	atomic_store(&m->others_target, UINT64_MAX);
	atomic_store(&m->others_delivered, 0);
	m->others_bytes = 0;
	memset(&m->check, 0, sizeof(m->check));
}

int cpg_baseline_receive_wait(cpg_baseline_member *m, uint64_t count, double timeout_seconds,
			      cpg_baseline_stats *out)
{
	int ok;

	stats_begin(out);
	atomic_store(&m->others_target, count);
	if (m->has_thread)
		ok = wait_until(m, others_done, timeout_seconds);
	else
		ok = dispatch_until(m, others_done, timeout_seconds);
	cpg_baseline_counters_end(out);
	out->status = ok ? CPG_BASELINE_OK : CS_ERR_TIMEOUT;
	out->messages = atomic_load(&m->others_delivered);
	out->bytes = m->others_bytes;
	out->sequence_errors = m->check.sequence_errors;
	out->payload_errors = m->check.payload_errors;
	out->wall_seconds = m->last_other_at - m->first_other_at;
	atomic_store(&m->others_target, UINT64_MAX);
	return out->status;
}

/* ---- ping-pong ---------------------------------------------------------- */

int cpg_baseline_ping(cpg_baseline_member *m, size_t size, uint64_t count, uint64_t *rtt_ns,
		      cpg_baseline_stats *out)
{
	unsigned char *buf;
	struct iovec iov;
	double start;

	stats_begin(out);
	if (m->has_thread || size < 9) {
		out->status = CS_ERR_INVALID_PARAM;
		return out->status;
	}
	buf = malloc(size);
	iov.iov_base = buf;
	iov.iov_len = size;
	start = cpg_baseline_now();
	for (uint64_t i = 0; i < count; i++) {
		uint64_t t0;
		cs_error_t err;

		cpg_baseline_fill(buf, size, i, CPG_BASELINE_KIND_PING);
		m->echo_seen = 0;
		t0 = cpg_baseline_now_ns();
		while ((err = cpg_mcast_joined(m->handle, CPG_TYPE_AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN)
			out->try_again++;
		if (err != CS_OK) {
			out->status = err;
			break;
		}
		for (;;) {
			if (!dispatch_until(m, echo_done, 10.0)) {
				out->status = CS_ERR_TIMEOUT;
				break;
			}
			if (m->echo_seq == i)
				break;
			m->echo_seen = 0;
		}
		if (out->status != CPG_BASELINE_OK)
			break;
		rtt_ns[i] = cpg_baseline_now_ns() - t0;
		out->messages++;
	}
	cpg_baseline_counters_end(out);
	out->wall_seconds = cpg_baseline_now() - start;
	out->bytes = out->messages * size;
	free(buf);
	return out->status;
}

int cpg_baseline_echo_serve(cpg_baseline_member *m, int stop_fd)
{
	struct pollfd fds[2] = {
		{.fd = m->fd, .events = POLLIN},
		{.fd = stop_fd, .events = POLLIN},
	};

	if (m->has_thread)
		return CS_ERR_INVALID_PARAM;
	for (;;) {
		if (poll(fds, stop_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return CS_ERR_LIBRARY;
		}
		if (fds[0].revents) {
			cs_error_t err = cpg_dispatch(m->handle, CS_DISPATCH_ALL);

			if (err != CS_OK)
				return err;
			if (m->echo_status != CPG_BASELINE_OK)
				return m->echo_status;
		}
		if (stop_fd >= 0 && fds[1].revents)
			return CPG_BASELINE_OK;
	}
}
