/*
 * Process titles, as OpenSSH sets them: ps(1) shows what each process
 * does (a worker its client and target, or idle; the supervisor its
 * address).  The title is written over the process's own argv strings,
 * which are contiguous from argv[0] to the end of the last: no syscall,
 * nothing a filter sees.  A worker is executed with a blank argument that
 * makes room (spawn.c); a longer title is cut.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctitle.h"

static char	*title;		/* argv[0] */
static size_t	 room;		/* bytes up to the last argument's NUL */

/*
 * Take over argv's strings for the title: each argv[i] is pointed at a
 * copy first (options keep pointers to them: -allowed-subnets' path, host
 * names), as OpenSSH's save_argv does.  Call it before anything reads
 * argv.  Without memory for the copies, the title stays as it is.
 */
void
proctitle_init(int argc, char **argv)
{
	char *area = argv[0];
	size_t len;
	int i;

	if (argc < 1 || argv[0] == NULL)
		return;
	/* Only as far as the strings really are contiguous. */
	for (i = 1; i < argc; i++)
		if (argv[i] != argv[i - 1] + strlen(argv[i - 1]) + 1)
			break;
	len = (size_t)(argv[i - 1] + strlen(argv[i - 1]) - argv[0]);
	for (i = 0; i < argc; i++) {
		char *copy = strdup(argv[i]);

		if (copy == NULL)
			return;
		argv[i] = copy;
	}
	title = area;
	room = len;
}

/* Set the title (printf format); the rest of the area is cleared. */
void
proctitle_set(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (title == NULL || room == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(title, room + 1, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < room)
		memset(title + n, '\0', room - (size_t)n);
}
