/*
 * memstress: allocates memory in 1 MiB steps and touches every page, printing progress, until it
 * holds the requested amount (default 256 MiB, as in the article's OOM proof).
 *
 * Inside a container limited to 100Mi the kernel's OOM killer ends it with SIGKILL (the shell
 * reports exit status 137) and `dmesg` on the host names the container's memory cgroup.
 * Built static (`gcc -static -O2 -o memstress memstress.c`) so it runs in the busybox images,
 * which have no C library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024 * 1024)

int main(int argc, char **argv)
{
	long target_mib = argc > 1 ? strtol(argv[1], NULL, 10) : 256;
	if (target_mib <= 0) {
		fprintf(stderr, "usage: %s [MiB to allocate, default 256]\n", argv[0]);
		return 2;
	}
	printf("memstress: allocating %ld MiB in 1 MiB steps (pid %d)\n", target_mib, (int)getpid());
	for (long held = 1; held <= target_mib; held++) {
		char *block = malloc(MIB);
		if (block == NULL) {
			fprintf(stderr, "memstress: malloc failed at %ld MiB\n", held);
			return 1;
		}
		/* Touch every byte: untouched pages are never charged to the memory cgroup. */
		memset(block, 0xA5, MIB);
		if (held % 16 == 0 || held == target_mib) {
			printf("memstress: holding %ld MiB\n", held);
			fflush(stdout);
		}
	}
	printf("memstress: done, %ld MiB held without being killed\n", target_mib);
	return 0;
}
