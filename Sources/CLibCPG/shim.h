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

#endif
