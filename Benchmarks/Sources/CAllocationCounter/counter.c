/* See CAllocationCounter.h. */
#define _GNU_SOURCE
#include "CAllocationCounter.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static atomic_int counting;
static atomic_uint_fast64_t allocations;
static atomic_uint_fast64_t bytes;
/* This thread's allocations while counting is on (see allocation_counter_this_thread). */
static __thread uint64_t thread_allocations;

/* ---- allocation sites (profiling only) ---- */

#define TRACE_DEPTH 12
#define TRACE_SKIP 2 /* record_site and the malloc entry point */
#define TRACE_SLOTS 4096

struct trace_slot {
	uint64_t hash;
	uint64_t count;
	int depth;
	void *frames[TRACE_DEPTH];
};

static atomic_int tracing;
static atomic_flag trace_lock = ATOMIC_FLAG_INIT;
static struct trace_slot slots[TRACE_SLOTS];
static uint64_t untraced;
static __thread int in_trace;

static void record_site(void)
{
	void *frames[TRACE_DEPTH + TRACE_SKIP];
	uint64_t hash = 1469598103934665603ull;
	int depth;

	if (in_trace)
		return;
	in_trace = 1;
	depth = backtrace(frames, TRACE_DEPTH + TRACE_SKIP) - TRACE_SKIP;
	if (depth < 0)
		depth = 0;
	for (int i = 0; i < depth; i++)
		hash = (hash ^ (uint64_t)(uintptr_t)frames[TRACE_SKIP + i]) * 1099511628211ull;
	while (atomic_flag_test_and_set_explicit(&trace_lock, memory_order_acquire))
		;
	for (uint64_t probe = 0; probe < TRACE_SLOTS; probe++) {
		struct trace_slot *slot = &slots[(hash + probe) % TRACE_SLOTS];

		if (slot->count == 0) {
			slot->hash = hash;
			slot->depth = depth;
			memcpy(slot->frames, frames + TRACE_SKIP, (size_t)depth * sizeof(void *));
		}
		if (slot->hash == hash) {
			slot->count++;
			goto done;
		}
	}
	untraced++;
done:
	atomic_flag_clear_explicit(&trace_lock, memory_order_release);
	in_trace = 0;
}

static inline void count(size_t size)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&bytes, size, memory_order_relaxed);
		thread_allocations++;
	}
	if (atomic_load_explicit(&tracing, memory_order_relaxed))
		record_site();
}

void *malloc(size_t size)
{
	count(size);
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	count(n * size);
	return __libc_calloc(n, size);
}

void *realloc(void *pointer, size_t size)
{
	void *result = __libc_realloc(pointer, size);

	if (result != pointer)
		count(size);
	return result;
}

void *memalign(size_t alignment, size_t size)
{
	count(size);
	return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size)
{
	count(size);
	return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
	void *result;

	if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0)
		return 22; /* EINVAL */
	count(size);
	result = __libc_memalign(alignment, size);
	if (result == NULL && size != 0)
		return 12; /* ENOMEM */
	*out = result;
	return 0;
}

void *valloc(size_t size)
{
	count(size);
	return __libc_memalign(4096, size);
}

void allocation_counter_start(void)
{
	atomic_store(&allocations, 0);
	atomic_store(&bytes, 0);
	atomic_store(&counting, 1);
}

allocation_counts allocation_counter_stop(void)
{
	allocation_counts counts;

	atomic_store(&counting, 0);
	counts.allocations = atomic_load(&allocations);
	counts.bytes = atomic_load(&bytes);
	return counts;
}

void allocation_tracing_start(void)
{
	void *warm[2];

	/* The first backtrace loads the unwinder (and allocates): do it before tracing. */
	in_trace = 1;
	backtrace(warm, 2);
	in_trace = 0;
	memset(slots, 0, sizeof(slots));
	untraced = 0;
	atomic_store(&tracing, 1);
}

static int by_count(const void *a, const void *b)
{
	const struct trace_slot *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

void allocation_tracing_stop(int fd, double per, int top)
{
	uint64_t total = 0;

	atomic_store(&tracing, 0);
	in_trace = 1;
	qsort(slots, TRACE_SLOTS, sizeof(slots[0]), by_count);
	for (int i = 0; i < TRACE_SLOTS; i++)
		total += slots[i].count;
	dprintf(fd, "allocation sites: %llu allocations, %.2f per unit; %llu not recorded\n",
		(unsigned long long)total, (double)total / per, (unsigned long long)untraced);
	for (int i = 0; i < top && i < TRACE_SLOTS && slots[i].count > 0; i++) {
		dprintf(fd, "\n#%d: %.3f per unit (%llu)\n", i + 1, (double)slots[i].count / per,
			(unsigned long long)slots[i].count);
		for (int f = 0; f < slots[i].depth; f++) {
			Dl_info info;

			if (dladdr(slots[i].frames[f], &info) && info.dli_fname != NULL) {
				const char *module = strrchr(info.dli_fname, '/');

				dprintf(fd, "    %s+0x%lx %s\n", module ? module + 1 : info.dli_fname,
					(unsigned long)((char *)slots[i].frames[f] - (char *)info.dli_fbase),
					info.dli_sname ? info.dli_sname : "?");
			} else {
				dprintf(fd, "    %p\n", slots[i].frames[f]);
			}
		}
	}
	in_trace = 0;
}

uint64_t allocation_counter_this_thread(void)
{
	return thread_allocations;
}
