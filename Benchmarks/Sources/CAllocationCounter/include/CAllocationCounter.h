/*
 * CAllocationCounter: counts heap allocations process-wide, without LD_PRELOAD.
 *
 * Linking this target into an executable defines malloc, calloc, realloc, posix_memalign,
 * aligned_alloc, memalign and valloc there; the dynamic linker then binds every library's
 * calls (the Swift runtime, Foundation, Dispatch, libcpg) to them, and they forward to glibc's
 * __libc_* entry points. Counting costs one relaxed load while disabled and two relaxed atomic
 * adds while enabled, so enable it only around the run being measured.
 */
#ifndef C_ALLOCATION_COUNTER_H
#define C_ALLOCATION_COUNTER_H

#include <stdint.h>

typedef struct allocation_counts {
	/* Calls that returned new memory (malloc, calloc, realloc to a new block, aligned variants). */
	uint64_t allocations;
	/* Bytes those calls asked for. */
	uint64_t bytes;
} allocation_counts;

/* Resets the counts and starts counting. */
void allocation_counter_start(void);

/* Stops counting and returns the counts since allocation_counter_start. */
allocation_counts allocation_counter_stop(void);

/*
 * The calling thread's allocations counted so far (while counting was on), never reset: take
 * the difference over a span that one thread runs from start to end.
 */
uint64_t allocation_counter_this_thread(void);

/*
 * Allocation sites, for profiling (slow: a backtrace per allocation). Starts recording the call
 * stack of every allocation; allocation_tracing_stop stops and writes the `top` most frequent
 * stacks to `fd`, each with its count divided by `per` (say, messages), innermost frame first,
 * as "module+0xoffset symbol" (resolve the offsets with llvm-symbolizer or addr2line).
 */
void allocation_tracing_start(void);
void allocation_tracing_stop(int fd, double per, int top);

#endif
