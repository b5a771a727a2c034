#define _GNU_SOURCE
#include "CHeapStatistics.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t heap_bytes_in_use(void)
{
	struct mallinfo2 info = mallinfo2();
	return info.uordblks + info.hblkhd;
}

size_t heap_bytes_held(void)
{
	struct mallinfo2 info = mallinfo2();
	return info.arena + info.hblkhd;
}

int heap_arena_count(void)
{
	char *text = NULL;
	size_t length = 0;
	FILE *stream = open_memstream(&text, &length);
	if (stream == NULL) {
		return 0;
	}
	int ok = malloc_info(0, stream) == 0;
	fclose(stream);
	int count = 0;
	/* One "<heap nr=" element per arena. */
	for (const char *at = text; ok && at != NULL && (at = strstr(at, "<heap nr=")) != NULL; at++) {
		count++;
	}
	free(text);
	return count;
}
