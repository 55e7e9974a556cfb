/*
 * Starting a worker as a fresh image.  A child that is only forked shares
 * the supervisor's address-space layout and stack canary with every other
 * worker, which is what Blind ROP needs against a pre-forking server; so
 * each worker executes the mmproxy binary again.  The binary is opened
 * once at startup and executed through that fd, so an upgrade on disk
 * never mixes versions.  The worker gets its channels on fixed fds and its
 * options as the first message on the channel: nothing is parsed twice,
 * and no file is read again.
 * It passes fds and options, never a job, and knows nothing of TCP or
 * UDP.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdpass.h"
#include "privilege.h"
#include "io.h"
#include "log.h"
#include "spawn.h"
#include "worker.h"

#define WORKER_ARG	"--mmproxy-worker"	/* argv[1] of an exec'd worker */
/* argv[2]: room for the worker's process title (proctitle.c), as long as
 * "mmproxy: [v6 client]:port -> [v6 target]:port". */
#define WORKER_TITLE_ROOM \
	"                                                                " \
	"                                                                "

extern char **environ;

/* execveat(2) by number: musl, the lean build's libc, has no wrapper. */
static int
sys_execveat(int fd, char *const argv[], char *const envp[])
{
	return (int)syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
}

/*
 * What a worker's environment holds: nothing of the supervisor's (a
 * worker has no use for it, and a hijacked one must not read it).  A
 * sanitizer build keeps its runtime's *SAN_OPTIONS, which its workers
 * read at start.  The strings are the supervisor's own environment's.
 */
static void
worker_env_make(struct spawn_image *img)
{
	size_t n = 0;
#ifdef MMPROXY_SANITIZE
	char **e;

	for (e = environ; *e != NULL && n + 1 < SPAWN_ENV_MAX; e++) {
		const char *eq = strchr(*e, '=');

		if (eq != NULL && eq - *e >= 12 &&
		    memcmp(eq - 11, "SAN_OPTIONS", 11) == 0)
			img->env[n++] = *e;
	}
#endif
	img->env[n] = NULL;
}

/* Open our own binary, before anything can replace it.  Fatal on error. */
void
spawn_open_self(struct spawn_image *img, const char *argv0)
{
	img->fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (img->fd == -1)
		fatal("opening /proc/self/exe");
	img->argv0 = argv0 != NULL ? argv0 : "mmproxy";
	worker_env_make(img);
}

/*
 * After privileges are dropped: can we still execute our binary?  If not
 * (-user NAME without execute permission on it), every worker would die
 * at exec; say so once, at startup.  Fatal on error.
 */
void
spawn_check(const struct spawn_image *img)
{
	if (faccessat(img->fd, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) == -1)
		fatal("executing our own binary for the workers");
}

/* Close every fd from 3 on but the (up to three) in keep. */
static int
close_all_but(const int keep[3])
{
	int k[3] = { keep[0], keep[1], keep[2] }, i, j, from = 3;

	for (i = 0; i < 3; i++)		/* sort, -1s first */
		for (j = i + 1; j < 3; j++)
			if (k[j] < k[i]) {
				int t = k[i];
				k[i] = k[j];
				k[j] = t;
			}
	for (i = 0; i < 3; i++) {
		if (k[i] < from)
			continue;
		if (k[i] > from && close_fds((unsigned)from,
		    (unsigned)k[i] - 1) == -1)
			return -1;
		from = k[i] + 1;
	}
	return close_fds((unsigned)from, ~0U);
}

/*
 * In the child, between vfork and exec: the channel on fd 3, the socket
 * channel (or nothing) on fd 4, nothing else but stdio; then the image.
 * Only syscalls here: the child still runs in the supervisor's memory.
 */
static void __attribute__((noreturn))
child_exec(const struct spawn_image *img, int ctl, int sockch)
{
	char *argv[] = { (char *)img->argv0, (char *)WORKER_ARG,
	    (char *)WORKER_TITLE_ROOM, NULL };
	int keep[3] = { img->fd, ctl, sockch };
	int exe, c, k = -1;

	/* The listeners and other workers' channels are not this worker's
	 * (HAZARDS 7).  Closed first: near RLIMIT_NOFILE, the moves below
	 * need room. */
	if (close_all_but(keep) == -1)
		_exit(126);
	/* Above fds 3 and 4 first, so the dup2s below clobber nothing. */
	exe = fcntl(img->fd, F_DUPFD_CLOEXEC, WORKER_SOCKCH_FD + 1);
	c = fcntl(ctl, F_DUPFD_CLOEXEC, WORKER_SOCKCH_FD + 1);
	if (sockch != -1)
		k = fcntl(sockch, F_DUPFD_CLOEXEC, WORKER_SOCKCH_FD + 1);
	if (exe == -1 || c == -1 || (sockch != -1 && k == -1) ||
	    dup2(c, WORKER_CTL_FD) == -1 ||
	    (k != -1 && dup2(k, WORKER_SOCKCH_FD) == -1))
		_exit(126);
	if (k == -1)
		(void)close(WORKER_SOCKCH_FD);
	/* No capability from the exec, even with file capabilities on the
	 * binary (setcap): no_new_privs caps what an exec gives at what this
	 * process holds, and it holds nothing from here (its own creds, not
	 * the supervisor's).  A worker never has one, not even before it
	 * confines itself. */
	if (privilege_keep_only(0) == -1 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		_exit(126);
	/* exe is close-on-exec, as are the copies: they go with the exec. */
	(void)sys_execveat(exe, argv, img->env);
	_exit(127);
}

/*
 * Start a worker: vfork, and in the child execute img with ctl (the
 * worker's end of its channel) and sockch (its end of the socket channel,
 * or -1).  Then its options go down parent_ctl, the supervisor's end.
 * Returns the pid, or -1 with errno set.
 */
pid_t
spawn_worker(const struct spawn_image *img, const struct options *opt,
    int parent_ctl, int ctl, int sockch)
{
	struct handoff h = { .tag = HANDOFF_TAG, .kind = HANDOFF_CONFIG,
	    .payload_len = sizeof(struct options) };
	struct options copy = *opt;
	pid_t pid;

	/* Pointers mean nothing in another image; the worker needs neither. */
	copy.allowed_subnets_path = NULL;
	memset(&copy.allowed, 0, sizeof(copy.allowed));
	copy.user = NULL;
	/* vfork: the supervisor's page tables are not copied for a child
	 * that only moves fds and executes; the supervisor waits the few
	 * microseconds until the exec. */
	if ((pid = vfork()) == -1)
		return -1;
	if (pid == 0)
		child_exec(img, ctl, sockch);
	if (fdpass_send(parent_ctl, &h, NULL, &copy) == -1) {
		int err = errno;

		kill(pid, SIGKILL);
		errno = err;
		return -1;	/* the caller reaps it */
	}
	return pid;
}

/* Was this process started by spawn_worker()? */
int
spawn_is_worker(int argc, char **argv)
{
	return argc == 3 && strcmp(argv[1], WORKER_ARG) == 0 &&
	    strcmp(argv[2], WORKER_TITLE_ROOM) == 0;
}

/*
 * The exec'd worker's start: its options from the channel, then serve.
 * Started by hand, with no channel on fd 3, it says so in one line.
 */
void
spawn_worker_boot(void)
{
	static struct options opt;
	struct handoff h;
	int fds[HANDOFF_MAX_FDS];
	int r;

	r = fdpass_recv(WORKER_CTL_FD, &h, fds, &opt, sizeof(opt));
	if (r != 1 || h.kind != HANDOFF_CONFIG || h.nfds != 0 ||
	    h.payload_len != sizeof(opt))
		fatalx("%s is for mmproxy's own workers: fd %d is not a "
		    "supervisor's channel", WORKER_ARG, WORKER_CTL_FD);
	log_init((int)opt.verbose);
	log_format(opt.log_json, opt.log_time);
	signal(SIGPIPE, SIG_IGN);
	worker_main(&opt);
}
