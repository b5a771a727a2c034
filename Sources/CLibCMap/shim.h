#ifndef SWIFT_CPG_CMAP_SHIM_H
#define SWIFT_CPG_CMAP_SHIM_H

// corosync's configuration and statistics database client library (Debian: libcmap-dev,
// libcorosync-common-dev), read for the node names of the nodelist. Like CLibCPG, the module
// links libcmap directly instead of asking pkg-config: pkg-config's `-pthread` would make
// SwiftPM warn on every build.
#include <stdint.h>
#include <stdlib.h>
#include <corosync/corotypes.h>
#include <corosync/cmap.h>

/// The longest key cmap_iter_next writes, with its terminating NUL.
static const int swift_cmap_key_buffer_size = CMAP_KEYNAME_MAXLEN + 1;

#endif
