/*
 * cpg-bench-peer: a plain-C libcpg member that swift-cpg's benchmark harness runs in child
 * processes (a process joins a group once, so every second member is another process).
 *
 *   cpg-bench-peer send GROUP COUNT SIZE MEMBERS
 *       joins (a thread dispatches), waits for MEMBERS members, sends COUNT messages of SIZE
 *       bytes (sequence numbers 0..COUNT-1, retrying CS_ERR_TRY_AGAIN at once), waits until
 *       all came back, leaves.
 *   cpg-bench-peer echo GROUP
 *       joins and answers every other member's ping with an echo, until stdin closes.
 *   cpg-bench-peer fc-spin GROUP SIZE SECONDS
 *       joins, waits for a line on stdin, then sends without ever dispatching until corosync
 *       answers CS_ERR_TRY_AGAIN and from then on retries at once for SECONDS (cpgbench's spin);
 *       prints the CPU it burnt, then leaves.
 *   cpg-bench-peer recv GROUP TOTAL
 *       joins (a thread dispatches) and receives until TOTAL messages from other members arrived
 *       or stdin closes (the harness gave up), checking each payload's layout (not a sequence:
 *       the throughput senders send the same message every time); reports nodedown=1 if a
 *       member left with CPG_REASON_NODEDOWN meanwhile (the ring re-formed during the run). The
 *       receivers on the other nodes of the multi-node rows.
 *   cpg-bench-peer member GROUP
 *       joins (a thread dispatches) and stays until stdin closes; prints
 *       "nodedown node=<id> at_ns=<CLOCK_MONOTONIC ns>" for every membership change in which a
 *       member left with CPG_REASON_NODEDOWN (the time is taken in the confchg callback). The
 *       members of the failure-detection measurement.
 *   cpg-bench-peer stall-recv GROUP TOTAL
 *       joins and reads nothing until a line arrives on stdin, then dispatches until TOTAL
 *       messages from other members arrived, checking each sender's sequence.
 *
 * Prints "ready pid=<pid>" after the join, then one "done key=value ..." line; exits 0, or 2
 * with "error <where> <cs_error_t>" on stderr.
 */
#define _GNU_SOURCE

#include "CPGBaseline.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail(const char *where, int status)
{
	fprintf(stderr, "error %s %d\n", where, status);
	exit(2);
}

static unsigned long long number(const char *text)
{
	char *end = NULL;
	unsigned long long value = strtoull(text, &end, 10);

	if (end == text || *end != '\0') {
		fprintf(stderr, "cpg-bench-peer: bad number '%s'\n", text);
		exit(64);
	}
	return value;
}

static cpg_baseline_member *join(const char *group, int dispatch_thread)
{
	int status;
	cpg_baseline_member *m = cpg_baseline_join(group, dispatch_thread, &status);

	if (m == NULL)
		fail("join", status);
	printf("ready pid=%u\n", cpg_baseline_pid(m));
	return m;
}

static int role_send(const char *group, uint64_t count, size_t size, unsigned members)
{
	cpg_baseline_member *m = join(group, 1);
	cpg_baseline_stats stats;
	int status;

	if ((status = cpg_baseline_wait_members(m, members, 60.0)) != CPG_BASELINE_OK)
		fail("wait_members", status);
	if ((status = cpg_baseline_send(m, size, count, &stats)) != CPG_BASELINE_OK)
		fail("send", status);
	printf("done sent=%llu try_again=%llu wall=%.6f cpu=%.6f\n", (unsigned long long)stats.messages,
	       (unsigned long long)stats.try_again, stats.wall_seconds, stats.user_seconds + stats.system_seconds);
	cpg_baseline_leave(m);
	return 0;
}

static int role_echo(const char *group)
{
	cpg_baseline_member *m = join(group, 0);
	int status = cpg_baseline_echo_serve(m, STDIN_FILENO);

	if (status != CPG_BASELINE_OK)
		fail("echo", status);
	printf("done\n");
	cpg_baseline_leave(m);
	return 0;
}

static int role_stall_recv(const char *group, uint64_t total)
{
	cpg_baseline_member *m;
	cpg_baseline_stats stats;
	char line[64];
	long rss_before;
	int status;

	m = join(group, 0);
	cpg_baseline_receive_begin(m);
	rss_before = cpg_baseline_rss_kib(getpid());
	/* Stalled: nothing is dispatched until the harness says so. */
	if (fgets(line, sizeof(line), stdin) == NULL)
		fail("stdin", 0);
	status = cpg_baseline_receive_wait(m, total, 600.0, &stats);
	printf("done messages=%llu bytes=%llu sequence_errors=%llu peak_rss_kib=%ld rss_before_kib=%ld "
	       "cpu=%.6f status=%d\n",
	       (unsigned long long)stats.messages, (unsigned long long)stats.bytes,
	       (unsigned long long)stats.sequence_errors, cpg_baseline_peak_rss_kib(), rss_before,
	       stats.user_seconds + stats.system_seconds, status);
	cpg_baseline_leave(m);
	return status == CPG_BASELINE_OK ? 0 : 2;
}

static int role_recv(const char *group, uint64_t total)
{
	cpg_baseline_member *m;
	cpg_baseline_stats stats;
	int status;
	struct pollfd input = {.fd = STDIN_FILENO, .events = POLLIN};
	char line[64];
	uint64_t at_ns;
	uint32_t nodeid;

	/* Counting starts before "ready": the harness starts the sender on that line, and a
	 * receiver preempted between the two would otherwise reset the first messages away. */
	if ((m = cpg_baseline_join(group, 1, &status)) == NULL)
		fail("join", status);
	cpg_baseline_receive_begin(m);
	printf("ready pid=%u\n", cpg_baseline_pid(m));
	while ((status = cpg_baseline_receive_wait(m, total, 0.1, &stats)) != CPG_BASELINE_OK) {
		if (poll(&input, 1, 0) > 0 && fgets(line, sizeof(line), stdin) == NULL)
			break;
	}
	printf("done messages=%llu bytes=%llu payload_errors=%llu nodedown=%d status=%d\n",
	       (unsigned long long)stats.messages, (unsigned long long)stats.bytes,
	       (unsigned long long)stats.payload_errors,
	       cpg_baseline_wait_nodedown(m, 0, &at_ns, &nodeid) == CPG_BASELINE_OK, status);
	cpg_baseline_leave(m);
	return status == CPG_BASELINE_OK ? 0 : 2;
}

static int role_member(const char *group)
{
	cpg_baseline_member *m = join(group, 1);
	struct pollfd input = {.fd = STDIN_FILENO, .events = POLLIN};
	char line[64];

	for (;;) {
		uint64_t at_ns;
		uint32_t nodeid;

		if (cpg_baseline_wait_nodedown(m, 0.05, &at_ns, &nodeid) == CPG_BASELINE_OK) {
			cpg_baseline_reset_nodedown(m);
			printf("nodedown node=%u at_ns=%llu\n", nodeid, (unsigned long long)at_ns);
		}
		if (poll(&input, 1, 0) > 0 && fgets(line, sizeof(line), stdin) == NULL)
			break;
	}
	printf("done\n");
	cpg_baseline_leave(m);
	return 0;
}

static int role_fc_spin(const char *group, size_t size, double seconds)
{
	cpg_baseline_member *m = join(group, 0);
	cpg_baseline_stats stats;
	char line[64];
	int status;

	if (fgets(line, sizeof(line), stdin) == NULL)
		fail("stdin", 0);
	status = cpg_baseline_spin_until_pushback(m, size, seconds, &stats);
	if (status != CPG_BASELINE_OK)
		fail("spin", status);
	printf("done accepted=%llu try_again=%llu wall=%.6f cpu=%.6f context_switches=%llu\n",
	       (unsigned long long)stats.messages, (unsigned long long)stats.try_again, stats.wall_seconds,
	       stats.user_seconds + stats.system_seconds, (unsigned long long)stats.context_switches);
	cpg_baseline_leave(m);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 6 && strcmp(argv[1], "send") == 0)
		return role_send(argv[2], number(argv[3]), (size_t)number(argv[4]), (unsigned)number(argv[5]));
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		return role_echo(argv[2]);
	if (argc == 5 && strcmp(argv[1], "fc-spin") == 0)
		return role_fc_spin(argv[2], (size_t)number(argv[3]), strtod(argv[4], NULL));
	if (argc == 4 && strcmp(argv[1], "recv") == 0)
		return role_recv(argv[2], number(argv[3]));
	if (argc == 3 && strcmp(argv[1], "member") == 0)
		return role_member(argv[2]);
	if (argc == 4 && strcmp(argv[1], "stall-recv") == 0)
		return role_stall_recv(argv[2], number(argv[3]));
	fprintf(stderr, "usage: cpg-bench-peer send GROUP COUNT SIZE MEMBERS | echo GROUP | fc-spin GROUP SIZE SECONDS | "
			"recv GROUP TOTAL | member GROUP | stall-recv GROUP TOTAL\n");
	return 64;
}
