/*
 * closefds CMD [ARG...]: run CMD with only fds 0, 1 and 2 open, so tests
 * that set a small RLIMIT_NOFILE do not depend on what the shell, bats or
 * CI left open.
 */
#include <sys/syscall.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: closefds CMD [ARG...]\n");
		return 2;
	}
	if (syscall(SYS_close_range, 3, ~0U, 0) == -1) {	/* musl: no wrapper */
		fprintf(stderr, "closefds: close_range: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "closefds: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
