/*
 * CPGBaseline: what a careful plain-C libcpg client does, as the yardstick for swift-cpg.
 *
 * Every function returns a cs_error_t value (CS_OK is 1) and fills a cpg_baseline_stats.
 * CPU times are getrusage(RUSAGE_SELF) deltas: the whole process, every thread, so call them
 * while nothing else in the process works.
 *
 * Message layout shared by every C and Swift role of the benchmarks (see cpg_baseline_fill):
 *   bytes 0..7  sequence number, little endian
 *   byte  8     kind: 'D' data, 'P' ping, 'E' echo
 *   bytes 9..   (seq & 0xff) repeated, and the last 8 bytes repeat the sequence number when the
 *               message has at least 24 bytes (so truncation or corruption shows)
 */
#ifndef CPG_BASELINE_H
#define CPG_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#define CPG_BASELINE_OK 1

/* Message kinds (byte 8). An anonymous enum so Swift sees the constants. */
enum {
	CPG_BASELINE_KIND_DATA = 'D',
	CPG_BASELINE_KIND_PING = 'P',
	CPG_BASELINE_KIND_ECHO = 'E',
};

typedef struct cpg_baseline_stats {
	/* Throughput: first send to last own delivery. Receive: first to last delivery. */
	double wall_seconds;
	double user_seconds;
	double system_seconds;
	/* Messages counted (own deliveries, or deliveries from others). */
	uint64_t messages;
	uint64_t bytes;
	/* How often cpg_mcast_joined answered CS_ERR_TRY_AGAIN. */
	uint64_t try_again;
	/* Messages from others that broke their sender's sequence or layout. */
	uint64_t sequence_errors;
	/* Of those, the messages whose payload broke the layout (receive only). */
	uint64_t payload_errors;
	/* Context switches of the process over the run (getrusage ru_nvcsw + ru_nivcsw). */
	uint64_t context_switches;
	/* cs_error_t of the first failure, CPG_BASELINE_OK if none. */
	int status;
	/*
	 * What the watched corosync spent over the same span (see cpg_baseline_watch_daemon):
	 * CPU seconds, totem token rotations and multicast packets; all 0 when none is watched.
	 */
	double daemon_cpu_seconds;
	uint64_t token_rotations;
	uint64_t packets_sent;
	/*
	 * Throughput with one sender: the sending thread's own CPU seconds over its send loop
	 * (CLOCK_THREAD_CPUTIME_ID) and its heap allocations there (read through what
	 * cpg_baseline_set_thread_allocations set, while the harness counts allocations).
	 */
	double sender_cpu_seconds;
	uint64_t sender_allocations;
} cpg_baseline_stats;

/*
 * Sets how the sending thread reads its own allocation count (the harness passes
 * CAllocationCounter's allocation_counter_this_thread); without it sender_allocations stays 0.
 * Call it once, before any measurement.
 */
void cpg_baseline_set_thread_allocations(uint64_t (*count)(void));

/* The calling thread's kernel thread id (gettid). */
int cpg_baseline_thread_id(void);

/*
 * corosync's cpgbench pipeline: one thread runs cpg_dispatch(CS_DISPATCH_BLOCKING) while another
 * sends `count` CPG_TYPE_AGREED messages of `size` bytes, retrying CS_ERR_TRY_AGAIN at once;
 * returns when every own message has been delivered back. Joins `group` first, leaves after.
 */
int cpg_baseline_throughput(const char *group, size_t size, uint64_t count, cpg_baseline_stats *out);

/* The same with `senders` sending threads (count split between them, one mutex around
 * cpg_mcast_joined as libqb's request ring takes one writer at a time). */
int cpg_baseline_throughput_senders(const char *group, size_t size, uint64_t count, unsigned senders,
				    cpg_baseline_stats *out);

/*
 * The same, connected to the corosync of the network namespace at `netns` (a path such as
 * /run/netns/NAME; NULL: this thread's namespace): it runs on a new thread that entered that
 * namespace (setns) before cpg_initialize. With `members` > 1 it waits (up to 60 s) until the
 * group has that many members before the clock starts, so receivers on other nodes see every
 * message.
 */
int cpg_baseline_throughput_in(const char *netns, const char *group, size_t size, uint64_t count, unsigned senders,
			       unsigned members, cpg_baseline_stats *out);

/*
 * The throughput pipeline with swift-cpg's thread structure, in C (handoff.c): the caller sends as
 * above; a reader thread polls libcpg's fd and dispatches CS_DISPATCH_ONE_NONBLOCKING in batches of
 * up to 64 events or 1 MiB (reading on at once after a full batch, and waking corosync with a
 * request after emptying the ring, as the library's reader does), copying each message into a
 * buffer of its own, and hands each batch to a consumer thread (a mutex, one condition signal when
 * the consumer waits), which counts the own messages and frees them. Measures what three threads
 * and a hand-off cost, without Swift.
 */
int cpg_baseline_throughput_handoff(const char *group, size_t size, uint64_t count, cpg_baseline_stats *out);

/*
 * Receive only with the same three-thread structure (handoff.c): joins `group` and starts the
 * reader and consumer threads; the consumer checks every message from others (layout and each
 * sender's sequence, as the Swift receiver does) and frees it, until `count` came. Start the
 * senders, then call cpg_baseline_handoff_receive_wait: CPU and context switches from that call
 * on, wall time from the first to the last delivery as the consumer sees them.
 * cpg_baseline_handoff_receiver_leave stops the threads, leaves, finalizes and frees. NULL on
 * failure, with *status set.
 */
typedef struct cpg_baseline_handoff_receiver cpg_baseline_handoff_receiver;
cpg_baseline_handoff_receiver *cpg_baseline_handoff_receiver_join(const char *group, uint64_t count, int reader_thread,
								 int *status);

/*
 * Without `reader_thread`, the caller reads: it watches cpg_baseline_handoff_fd (as the library's
 * DispatchSource does, on a serial queue) and calls cpg_baseline_handoff_read when the fd is
 * readable, and again at once while that answers 0 (the batch filled before the ring emptied).
 * 1: the ring is empty (or the receiver is done); below 0: a failure, which ends the wait. Stop
 * reading (cancel the source, and wait for a handler still running) before
 * cpg_baseline_handoff_receiver_leave, which finalizes the handle.
 */
int cpg_baseline_handoff_fd(const cpg_baseline_handoff_receiver *receiver);
int cpg_baseline_handoff_read(cpg_baseline_handoff_receiver *receiver);
int cpg_baseline_handoff_receive_wait(cpg_baseline_handoff_receiver *receiver, double timeout_seconds,
				      cpg_baseline_stats *out);
void cpg_baseline_handoff_receiver_leave(cpg_baseline_handoff_receiver *receiver);

/*
 * Joins, sends without ever dispatching (so corosync pushes back: on one node it answers
 * CS_ERR_TRY_AGAIN once this client's own events are unread), and from the first
 * CS_ERR_TRY_AGAIN on keeps retrying at once for `seconds`: out has the CPU that spin burns
 * (messages = how many were accepted before the first push-back). Finalizes after.
 */
int cpg_baseline_flow_control_spin(const char *group, size_t size, double seconds, cpg_baseline_stats *out);

/* A joined member, for the roles that need a peer first. */
typedef struct cpg_baseline_member cpg_baseline_member;

/*
 * Connects and joins. With `dispatch_thread`, a thread runs cpg_dispatch(CS_DISPATCH_BLOCKING)
 * until cpg_baseline_leave; without, the caller dispatches (cpg_baseline_ping, cpg_baseline_drain).
 * NULL on failure, with *status set.
 */
cpg_baseline_member *cpg_baseline_join(const char *group, int dispatch_thread, int *status);

/*
 * Failure detection: the confchg callback notes the time (CLOCK_MONOTONIC ns) and node of the
 * first member that left with CPG_REASON_NODEDOWN since the last reset. wait_nodedown waits
 * (dispatch-thread members on the thread, others dispatch) until there is one.
 */
void cpg_baseline_reset_nodedown(cpg_baseline_member *member);
int cpg_baseline_wait_nodedown(cpg_baseline_member *member, double timeout_seconds, uint64_t *at_ns,
			       uint32_t *nodeid);

/* This member's pid and node id as corosync knows it. */
uint32_t cpg_baseline_pid(const cpg_baseline_member *member);
uint32_t cpg_baseline_nodeid(const cpg_baseline_member *member);

/* The libcpg fd (for a caller that polls it next to other fds). */
int cpg_baseline_fd(const cpg_baseline_member *member);

/* Waits (dispatch-thread members only) until the group has at least `members` members. */
int cpg_baseline_wait_members(cpg_baseline_member *member, unsigned members, double timeout_seconds);

/* Starts a receive measurement: resets the counters of messages from others and takes the CPU
 * time. Then start the senders, then call cpg_baseline_receive_wait. */
void cpg_baseline_receive_begin(cpg_baseline_member *member);

/* Waits until `count` messages from other members have been delivered since
 * cpg_baseline_receive_begin (dispatch-thread members wait on the thread, others dispatch). */
int cpg_baseline_receive_wait(cpg_baseline_member *member, uint64_t count, double timeout_seconds,
			      cpg_baseline_stats *out);

/*
 * Sends `count` messages of `size` bytes (sequence numbers 0..count-1, kind 'D') retrying
 * CS_ERR_TRY_AGAIN at once, then waits (dispatch-thread members) until all came back.
 */
int cpg_baseline_send(cpg_baseline_member *member, size_t size, uint64_t count, cpg_baseline_stats *out);

/*
 * Ping-pong (members without a dispatch thread): `count` times, send a 'P' message and dispatch
 * until another member's 'E' with the same sequence number arrives. rtt_ns[i] gets each round
 * trip. Echoes come from cpg_baseline_echo_serve in another process.
 */
int cpg_baseline_ping(cpg_baseline_member *member, size_t size, uint64_t count, uint64_t *rtt_ns,
		      cpg_baseline_stats *out);

/*
 * Echo peer (members without a dispatch thread): dispatches and answers every other member's
 * 'P' message with the same bytes as 'E', until `stop_fd` becomes readable or hangs up.
 */
int cpg_baseline_echo_serve(cpg_baseline_member *member, int stop_fd);

/*
 * The spin of cpg_baseline_flow_control_spin on a joined member without a dispatch thread: sends
 * until the first CS_ERR_TRY_AGAIN (giving up after 60 s), then retries at once for `seconds`.
 * Leave it with cpg_baseline_leave afterwards.
 */
int cpg_baseline_spin_until_pushback(cpg_baseline_member *member, size_t size, double seconds,
				     cpg_baseline_stats *out);

/* Leaves (waiting up to a few seconds for the own leave), finalizes, frees. */
int cpg_baseline_leave(cpg_baseline_member *member);

/* Fills buf with message `seq` of the layout above. */
void cpg_baseline_fill(unsigned char *buf, size_t size, uint64_t seq, unsigned char kind);

/* Checks a message against the layout; 1 if it is intact, with *seq and *kind set. */
int cpg_baseline_check(const unsigned char *buf, size_t size, uint64_t *seq, unsigned char *kind);

/* CLOCK_MONOTONIC in seconds, and in nanoseconds. */
double cpg_baseline_now(void);
uint64_t cpg_baseline_now_ns(void);

/* getrusage(RUSAGE_SELF): user and system CPU seconds of the whole process. */
void cpg_baseline_cpu_seconds(double *user, double *system);

/* CPU seconds of the calling thread alone (CLOCK_THREAD_CPUTIME_ID). */
double cpg_baseline_thread_cpu_seconds(void);

/* getrusage(RUSAGE_SELF): voluntary + involuntary context switches of the whole process. */
uint64_t cpg_baseline_context_switches(void);

/*
 * From now on every run's stats also count what corosync `pid` spends (0: none). It must be the
 * daemon the run's thread talks to (cmap connects like cpg): the one of this namespace.
 */
void cpg_baseline_watch_daemon(int pid);

/*
 * Binds thread `tid` (of any process) to `cpu`, saving its former mask in `saved`
 * (`saved_size` bytes, at least CPG_BASELINE_CPU_MASK_BYTES); 0 or -errno.
 */
#define CPG_BASELINE_CPU_MASK_BYTES 128
int cpg_baseline_pin_thread(int tid, int cpu, void *saved, int saved_size);

/* Gives thread `tid` the mask saved by cpg_baseline_pin_thread back; 0 or -errno. */
int cpg_baseline_restore_thread(int tid, const void *saved, int saved_size);

/*
 * Subtracts (sign -1, at the start of a span) or adds (sign 1, at its end) the watched daemon's
 * counters now into out's daemon fields; does nothing while none is watched.
 */
void cpg_baseline_daemon_counters(cpg_baseline_stats *out, int sign);

/*
 * The totem counters of the corosync this process talks to (cmap, stats.srp.*): token rotations
 * received (orf_token_rx) and multicast packets sent (mcast_tx). Returns a cs_error_t.
 */
int cpg_baseline_totem_counters(uint64_t *token_rotations, uint64_t *packets_sent);

/* CPU seconds (user + system) process `pid` has used so far (/proc/PID/stat); -1 if unknown. */
double cpg_baseline_process_cpu_seconds(int pid);

/* This process's peak resident set (VmHWM) and current one (VmRSS), in KiB; -1 if unknown. */
long cpg_baseline_peak_rss_kib(void);
long cpg_baseline_rss_kib(int pid);

#endif
