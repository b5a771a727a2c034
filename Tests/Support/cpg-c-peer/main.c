/*
 * cpg-c-peer: a plain-C libcpg group member, used by the Swift tests to check
 * that the Swift library interoperates with ordinary libcpg clients.
 *
 * Usage:
 *   cpg-c-peer GROUP [--send N] [--size BYTES] [--expect N]
 *                    [--wait-members M] [--prefix TEXT] [--no-data] [--empty-group]
 *
 * It joins GROUP and prints one line per event on stdout (line buffered):
 *
 *   ready nodeid=<N> pid=<P>
 *   message nodeid=<N> pid=<P> size=<S> data=<lowercase hex, empty if S is 0>
 *   membership members=<n:p,...> joined=<n:p:reason,...> left=<n:p:reason,...>
 *   ring nodeid=<N> seq=<S> members=<n,...>
 *
 * "ready" is printed once, after the join succeeded and before any event.
 * Reasons are the numeric cpg_reason_t values (1 join, 2 leave, 3 nodedown,
 * 4 nodeup, 5 procdown).
 *
 * --wait-members M  do not start sending before a membership event has shown
 *                   at least M members.
 * --send N          send N messages (CPG_TYPE_AGREED); message i (from 0) is
 *                   the ASCII text "<prefix><i>", padded with '.' up to
 *                   --size bytes when --size is larger than the text.
 * --prefix TEXT     default "c".
 * --no-data         print "data=" empty in "message" lines (for large messages,
 *                   whose hex would make lines of megabytes).
 * --empty-group    GROUP may be "": join the group with the empty name (corosync
 *                   accepts it; leave it with SIGTERM, as corosync never removes
 *                   a member of an empty-named group whose process dies).
 * --expect N        once N messages have been delivered (from all senders,
 *                   including its own) and its own sends are done, it leaves
 *                   the group, finalizes and exits 0.  Nothing is printed
 *                   after the Nth "message" line.
 *
 * Without --expect it runs until SIGTERM or SIGINT; then it leaves the group,
 * finalizes and exits 0 (a signal also ends an unfinished --expect run this
 * way).  On any CPG error it prints "error <where> <cs_error_t>" on stderr and
 * exits 2.  Usage errors exit 64.
 */
#define _GNU_SOURCE

#include <corosync/cpg.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define EXIT_CPG_ERROR 2
#define EXIT_USAGE 64

/* Options. */
static const char *opt_group;
static bool opt_empty_group;
static unsigned long opt_send;
static unsigned long opt_size;
static long opt_expect = -1; /* -1: not given */
static unsigned long opt_wait_members;
static const char *opt_prefix = "c";
static bool opt_no_data;

/* State, shared with the callbacks (which only run inside cpg_dispatch). */
static unsigned long delivered;
static bool members_reached;
static bool quiet;       /* set once --expect is reached: print nothing more */
static int signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t got_signal;

static void usage(const char *why)
{
	fprintf(stderr, "cpg-c-peer: %s\n", why);
	fprintf(stderr,
		"usage: cpg-c-peer GROUP [--send N] [--size BYTES] [--expect N] [--no-data] "
		"[--wait-members M] [--prefix TEXT] [--empty-group]\n");
	exit(EXIT_USAGE);
}

static void fail(const char *where, cs_error_t err)
{
	fprintf(stderr, "error %s %d\n", where, (int)err);
	fflush(stderr);
	exit(EXIT_CPG_ERROR);
}

static unsigned long parse_count(const char *flag, const char *text)
{
	char *end = NULL;
	unsigned long value;

	if (text == NULL) {
		fprintf(stderr, "cpg-c-peer: %s needs a value\n", flag);
		usage("missing value");
	}
	if (text[0] < '0' || text[0] > '9') {
		fprintf(stderr, "cpg-c-peer: bad value for %s: '%s'\n", flag, text);
		usage("bad value");
	}
	errno = 0;
	value = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value > LONG_MAX) {
		fprintf(stderr, "cpg-c-peer: bad value for %s: '%s'\n", flag, text);
		usage("bad value");
	}
	return value;
}

static void parse_args(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *value = (i + 1 < argc) ? argv[i + 1] : NULL;

		if (strcmp(arg, "--send") == 0) {
			opt_send = parse_count(arg, value);
			i++;
		} else if (strcmp(arg, "--size") == 0) {
			opt_size = parse_count(arg, value);
			i++;
		} else if (strcmp(arg, "--expect") == 0) {
			opt_expect = (long)parse_count(arg, value);
			i++;
		} else if (strcmp(arg, "--wait-members") == 0) {
			opt_wait_members = parse_count(arg, value);
			i++;
		} else if (strcmp(arg, "--empty-group") == 0) {
			opt_empty_group = true;
		} else if (strcmp(arg, "--no-data") == 0) {
			opt_no_data = true;
		} else if (strcmp(arg, "--prefix") == 0) {
			if (value == NULL)
				usage("--prefix needs a value");
			opt_prefix = value;
			i++;
		} else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			usage("help");
		} else if (arg[0] == '-' && arg[1] == '-') {
			fprintf(stderr, "cpg-c-peer: unknown option '%s'\n", arg);
			usage("unknown option");
		} else if (opt_group == NULL) {
			opt_group = arg;
		} else {
			usage("more than one GROUP given");
		}
	}
	if (opt_group == NULL || (opt_group[0] == '\0' && !opt_empty_group))
		usage("GROUP is required");
	if (strlen(opt_group) > CPG_MAX_NAME_LENGTH)
		usage("GROUP is longer than CPG_MAX_NAME_LENGTH");
	if (opt_wait_members == 0)
		members_reached = true;
}

static bool expect_done(void)
{
	return opt_expect >= 0 && delivered >= (unsigned long)opt_expect;
}

/* ---- callbacks ---------------------------------------------------------- */

static void on_deliver(cpg_handle_t handle, const struct cpg_name *group_name,
		       uint32_t nodeid, uint32_t pid, void *msg, size_t msg_len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *bytes = msg;
	char *hex;
	size_t i;

	(void)handle;
	(void)group_name;
	if (quiet)
		return;

	if (opt_no_data) {
		printf("message nodeid=%" PRIu32 " pid=%" PRIu32 " size=%zu data=\n", nodeid, pid, msg_len);
		delivered++;
		if (expect_done())
			quiet = true;
		return;
	}
	hex = malloc(msg_len * 2 + 1);
	if (hex == NULL) {
		fprintf(stderr, "cpg-c-peer: out of memory\n");
		exit(EXIT_CPG_ERROR);
	}
	for (i = 0; i < msg_len; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 0x0f];
	}
	hex[2 * msg_len] = '\0';
	printf("message nodeid=%" PRIu32 " pid=%" PRIu32 " size=%zu data=%s\n",
	       nodeid, pid, msg_len, hex);
	free(hex);

	delivered++;
	if (expect_done())
		quiet = true;
}

static void print_addresses(const char *label, const struct cpg_address *list,
			    size_t entries, bool with_reason)
{
	size_t i;

	printf("%s=", label);
	for (i = 0; i < entries; i++) {
		printf("%s%" PRIu32 ":%" PRIu32, i == 0 ? "" : ",",
		       list[i].nodeid, list[i].pid);
		if (with_reason)
			printf(":%" PRIu32, list[i].reason);
	}
}

static void on_confchg(cpg_handle_t handle, const struct cpg_name *group_name,
		       const struct cpg_address *member_list, size_t member_list_entries,
		       const struct cpg_address *left_list, size_t left_list_entries,
		       const struct cpg_address *joined_list, size_t joined_list_entries)
{
	(void)handle;
	(void)group_name;
	if (opt_wait_members > 0 && member_list_entries >= opt_wait_members)
		members_reached = true;
	if (quiet)
		return;

	printf("membership ");
	print_addresses("members", member_list, member_list_entries, false);
	printf(" ");
	print_addresses("joined", joined_list, joined_list_entries, true);
	printf(" ");
	print_addresses("left", left_list, left_list_entries, true);
	printf("\n");
}

static void on_totem_confchg(cpg_handle_t handle, struct cpg_ring_id ring_id,
			     uint32_t member_list_entries, const uint32_t *member_list)
{
	uint32_t i;

	(void)handle;
	if (quiet)
		return;

	printf("ring nodeid=%" PRIu32 " seq=%" PRIu64 " members=", ring_id.nodeid,
	       (uint64_t)ring_id.seq);
	for (i = 0; i < member_list_entries; i++)
		printf("%s%" PRIu32, i == 0 ? "" : ",", member_list[i]);
	printf("\n");
}

/* ---- helpers ------------------------------------------------------------ */

static void on_signal(int signo)
{
	int saved = errno;
	char byte = 1;
	ssize_t ignored;

	(void)signo;
	got_signal = 1;
	ignored = write(signal_pipe[1], &byte, 1);
	(void)ignored;
	errno = saved;
}

static void install_signals(void)
{
	struct sigaction sa;

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		perror("cpg-c-peer: pipe2");
		exit(EXIT_CPG_ERROR);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);

	/* A parent may hand down a mask that blocks SIGTERM (a Swift test process spawns
	 * children from Dispatch threads, which block most signals): unblock ours. */
	sigset_t handled;
	sigemptyset(&handled);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigprocmask(SIG_UNBLOCK, &handled, NULL);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !got_signal)
		;
}

/* Builds message number `index`: "<prefix><index>" padded with '.' to --size. */
static char *build_payload(unsigned long index, size_t *length)
{
	char number[32];
	size_t text_len, total;
	char *buffer;

	snprintf(number, sizeof(number), "%lu", index);
	text_len = strlen(opt_prefix) + strlen(number);
	total = text_len < opt_size ? opt_size : text_len;
	buffer = malloc(total == 0 ? 1 : total);
	if (buffer == NULL) {
		fprintf(stderr, "cpg-c-peer: out of memory\n");
		exit(EXIT_CPG_ERROR);
	}
	memcpy(buffer, opt_prefix, strlen(opt_prefix));
	memcpy(buffer + strlen(opt_prefix), number, strlen(number));
	memset(buffer + text_len, '.', total - text_len);
	*length = total;
	return buffer;
}

static void leave_and_exit(cpg_handle_t handle, const struct cpg_name *group)
{
	cs_error_t err;
	double deadline = now_seconds() + 5.0;

	fflush(stdout);
	for (;;) {
		err = cpg_leave(handle, group);
		if (err != CS_ERR_TRY_AGAIN || now_seconds() > deadline)
			break;
		sleep_ms(10);
	}
	if (err != CS_OK)
		fail("cpg_leave", err);
	err = cpg_finalize(handle);
	if (err != CS_OK)
		fail("cpg_finalize", err);
	exit(0);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	cpg_model_v1_data_t model;
	cpg_handle_t handle;
	struct cpg_name group;
	cs_error_t err;
	unsigned int local_nodeid = 0;
	unsigned long sent = 0;
	bool retry_send = false;
	double deadline;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	install_signals();

	memset(&model, 0, sizeof(model));
	model.model = CPG_MODEL_V1;
	model.cpg_deliver_fn = on_deliver;
	model.cpg_confchg_fn = on_confchg;
	model.cpg_totem_confchg_fn = on_totem_confchg;
	model.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;

	deadline = now_seconds() + 5.0;
	for (;;) {
		err = cpg_model_initialize(&handle, CPG_MODEL_V1,
					   (cpg_model_data_t *)&model, NULL);
		if (err != CS_ERR_TRY_AGAIN || now_seconds() > deadline)
			break;
		sleep_ms(10);
	}
	if (err != CS_OK)
		fail("cpg_model_initialize", err);

	err = cpg_local_get(handle, &local_nodeid);
	if (err != CS_OK)
		fail("cpg_local_get", err);

	err = cpg_fd_get(handle, &fd);
	if (err != CS_OK)
		fail("cpg_fd_get", err);

	memset(&group, 0, sizeof(group));
	group.length = (uint32_t)strlen(opt_group);
	memcpy(group.value, opt_group, group.length);

	deadline = now_seconds() + 5.0;
	for (;;) {
		err = cpg_join(handle, &group);
		if (err != CS_ERR_TRY_AGAIN || now_seconds() > deadline || got_signal)
			break;
		sleep_ms(10);
	}
	if (err != CS_OK)
		fail("cpg_join", err);

	printf("ready nodeid=%u pid=%ld\n", local_nodeid, (long)getpid());

	for (;;) {
		struct pollfd fds[2];
		bool can_send;
		int timeout, ready;

		if (got_signal)
			leave_and_exit(handle, &group);
		if (expect_done() && sent >= opt_send)
			leave_and_exit(handle, &group);

		can_send = sent < opt_send && members_reached;
		if (!can_send)
			timeout = -1;           /* wait for events */
		else if (retry_send)
			timeout = 1;            /* back off after CS_ERR_TRY_AGAIN */
		else
			timeout = 0;            /* just pick up what is already there */

		fds[0].fd = fd;
		fds[0].events = POLLIN;
		fds[0].revents = 0;
		fds[1].fd = signal_pipe[0];
		fds[1].events = POLLIN;
		fds[1].revents = 0;
		ready = poll(fds, 2, timeout);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			perror("cpg-c-peer: poll");
			exit(EXIT_CPG_ERROR);
		}
		if (fds[0].revents != 0) {
			err = cpg_dispatch(handle, CS_DISPATCH_ALL);
			if (err != CS_OK && err != CS_ERR_TRY_AGAIN)
				fail("cpg_dispatch", err);
		}
		if (fds[1].revents != 0)
			continue; /* got_signal is set; handled at the top */

		if (can_send) {
			struct iovec iov;
			size_t length;
			char *payload = build_payload(sent, &length);

			iov.iov_base = payload;
			iov.iov_len = length;
			err = cpg_mcast_joined(handle, CPG_TYPE_AGREED, &iov, 1);
			free(payload);
			if (err == CS_OK) {
				sent++;
				retry_send = false;
			} else if (err == CS_ERR_TRY_AGAIN) {
				retry_send = true;
			} else {
				fail("cpg_mcast_joined", err);
			}
		}
	}
}
