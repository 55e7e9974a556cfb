/* The process title ps shows: OpenSSH's way, our own argv rewritten. */
#ifndef MMPROXY_PROCTITLE_H
#define MMPROXY_PROCTITLE_H

void	proctitle_init(int argc, char **argv);
void	proctitle_set(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
