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

#endif
