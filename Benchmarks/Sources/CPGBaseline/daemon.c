/*
 * What the local corosync spends on a run: its totem counters (cmap) and its CPU (/proc).
 * See CPGBaseline.h.
 */
#define _GNU_SOURCE

#include "CPGBaseline.h"

#include <corosync/cmap.h>

#include <errno.h>
#include <sched.h>
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

int cpg_baseline_pin_thread(int tid, int cpu, void *saved, int saved_size)
{
	cpu_set_t mask;
	if (saved_size < (int)sizeof(cpu_set_t))
		return -EINVAL;
	if (sched_getaffinity(tid, sizeof(cpu_set_t), (cpu_set_t *)saved) != 0)
		return -errno;
	CPU_ZERO(&mask);
	CPU_SET(cpu, &mask);
	if (sched_setaffinity(tid, sizeof(mask), &mask) != 0)
		return -errno;
	return 0;
}

int cpg_baseline_restore_thread(int tid, const void *saved, int saved_size)
{
	if (saved_size < (int)sizeof(cpu_set_t))
		return -EINVAL;
	if (sched_setaffinity(tid, sizeof(cpu_set_t), (const cpu_set_t *)saved) != 0)
		return -errno;
	return 0;
}
