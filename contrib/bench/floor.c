/*
 * floor: what a bare process of this image costs, for `make bench`.
 *
 *   floor N
 *
 * Starts N children, each a fresh image of this binary (fork, then
 * execve of /proc/self/exe, as mmproxy starts its workers) that only
 * sleeps.  Prints "ready N" once all of them run, then waits; SIGTERM
 * ends it and them.  The bench divides the memory they take by N: the
 * least a worker of the same build can cost.
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHILD_ARG	"--sleep"

int
main(int argc, char **argv)
{
	sigset_t stop;
	char byte;
	long i, n;
	int ready[2];

	if (argc == 3 && strcmp(argv[1], CHILD_ARG) == 0) {
		/* The child: say it runs, then sleep until killed. */
		int fd = atoi(argv[2]);
		(void)write(fd, "", 1);
		(void)close(fd);
		for (;;)
			pause();
	}
	if (argc != 2 || (n = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: floor N\n");
		return 2;
	}
	if (pipe(ready) == -1) {
		perror("floor: pipe");
		return 1;
	}
	/* The children leave with the parent's process group. */
	(void)setpgid(0, 0);
	for (i = 0; i < n; i++) {
		char fdarg[16];
		pid_t pid;

		snprintf(fdarg, sizeof(fdarg), "%d", ready[1]);
		pid = fork();
		if (pid == -1) {
			perror("floor: fork");
			kill(0, SIGKILL);
		}
		if (pid == 0) {
			char *cargv[] = { argv[0], (char *)CHILD_ARG, fdarg, NULL };
			close(ready[0]);
			execv("/proc/self/exe", cargv);
			_exit(127);
		}
	}
	close(ready[1]);
	for (i = 0; i < n; i++)
		if (read(ready[0], &byte, 1) != 1) {
			fprintf(stderr, "floor: a child did not start\n");
			kill(0, SIGKILL);
		}
	/* Blocked before saying ready: a SIGTERM right after is not lost. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	printf("ready %ld\n", n);
	fflush(stdout);
	while (sigwait(&stop, &(int){ 0 }) != 0)
		;
	/* The children, then ourselves: one process group. */
	kill(0, SIGKILL);
	return 0;
}
