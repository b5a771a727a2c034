#ifndef SWIFT_CPG_SHIM_H
#define SWIFT_CPG_SHIM_H

// The corosync CPG client library (Debian: libcpg-dev, libcorosync-common-dev).
// The module links libcpg directly instead of asking pkg-config: pkg-config's
// `-pthread` would make SwiftPM warn on every build.
#include <sys/uio.h>
#include <corosync/corotypes.h>
#include <corosync/cpg.h>

// setns(2) is behind _GNU_SOURCE in glibc's <sched.h>; declaring it here keeps feature macros
// out of the module. Used to connect to the corosync of another network namespace.
extern int setns(int fd, int nstype);

static inline int swift_cpg_enter_network_namespace(int fd) {
    return setns(fd, 0x40000000 /* CLONE_NEWNET */);
}

// SO_PEERCRED's struct ucred is behind _GNU_SOURCE too; this has the same layout.
struct swift_cpg_peer_credentials {
    int pid;
    unsigned int uid;
    unsigned int gid;
};

#include <sys/socket.h>

/// The credentials of the process at the other end of a unix socket (SO_PEERCRED).
static inline int swift_cpg_peer_credentials(int fd, struct swift_cpg_peer_credentials *credentials) {
    socklen_t length = sizeof(*credentials);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, credentials, &length);
}

// The group's reader, when it lingers on corosync's fd (CPGConfiguration.readerLinger), waits
// on that fd and on an eventfd that work enqueued on the group's queue signals.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/eventfd.h>

// ppoll(2) is behind _GNU_SOURCE as well.
extern int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask);

/// Waits until `fd` or `wake_fd` is readable or `timeout_ns` passed. Answers 0 on timeout, else
/// a bit set: 1 when `fd` is readable (or failed: hang-up or error, which its reader reports),
/// 2 when `wake_fd` is readable; -errno on failure (errno itself may change before Swift reads it).
static inline int swift_cpg_wait_readable(int fd, int wake_fd, long long timeout_ns) {
    struct pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    struct timespec timeout = {timeout_ns / 1000000000LL, timeout_ns % 1000000000LL};
    int result = ppoll(fds, 2, &timeout, 0);
    if (result < 0) return -errno;
    if (result == 0) return 0;
    return (fds[0].revents ? 1 : 0) | (fds[1].revents ? 2 : 0);
}

#endif
