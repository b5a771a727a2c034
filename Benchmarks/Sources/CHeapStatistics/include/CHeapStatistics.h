/*
 * CHeapStatistics: what glibc's allocator holds, to tell a leak from memory the allocator keeps.
 *
 * A process's RSS also counts freed memory that malloc keeps for reuse, in every arena (glibc
 * gives threads arenas of their own, up to 8 per core). The bytes in use count only what the
 * program has allocated and not freed: a leak makes them grow, allocator retention does not.
 */
#ifndef C_HEAP_STATISTICS_H
#define C_HEAP_STATISTICS_H

#include <stddef.h>

/* Bytes allocated and not freed, in every arena and in mmapped chunks (mallinfo2). */
size_t heap_bytes_in_use(void);

/* Bytes the allocator holds from the system for the heap (arenas and mmapped chunks). */
size_t heap_bytes_held(void);

/* The number of malloc arenas (malloc_info's heaps); 0 if it cannot be read. */
int heap_arena_count(void);

#endif
