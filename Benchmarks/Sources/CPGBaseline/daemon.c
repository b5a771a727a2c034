/*
 * What the local corosync spends on a run: its totem counters (cmap) and its CPU (/proc).
 * See CPGBaseline.h.
 */
#include "CPGBaseline.h"

#include <corosync/cmap.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cpg_baseline_totem_counters(uint64_t *token_rotations, uint64_t *packets_sent)
{
	cmap_handle_t handle;
	cs_error_t error = cmap_initialize_map(&handle, CMAP_MAP_STATS);
	if (error != CS_OK) {
		return error;
	}
	error = cmap_get_uint64(handle, "stats.srp.orf_token_rx", token_rotations);
	if (error == CS_OK) {
		error = cmap_get_uint64(handle, "stats.srp.mcast_tx", packets_sent);
	}
	cmap_finalize(handle);
	return error;
}

double cpg_baseline_process_cpu_seconds(int pid)
{
	char path[64];
	char line[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *file = fopen(path, "r");
	if (file == NULL) {
		return -1;
	}
	char *read = fgets(line, sizeof(line), file);
	fclose(file);
	if (read == NULL) {
		return -1;
	}
	/* The command name may hold spaces and parentheses: the fields start after the last ')'. */
	char *fields = strrchr(line, ')');
	unsigned long utime = 0, stime = 0;
	if (fields == NULL || sscanf(fields + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) {
		return -1;
	}
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}
