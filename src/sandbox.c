/*
 * The worker's seccomp filter: it lets a worker (which has given up every
 * capability first, privilege.c) do what serving needs and nothing else.
 * The policy, in order:
 *
 *   1. A syscall from any other ABI (i386, x32) kills the process: the
 *      numbers below are this architecture's only.
 *   2. Allowed: moving bytes (read, write, recv, splice...), poll, closing
 *      fds, memory (no executable mapping), the clock, exit, and what
 *      libc's own paths use (abort, the clock_gettime fallback, getrandom
 *      for malloc).  Not allowed: bind, connect, listen, accept, sendmsg,
 *      sendmmsg: a worker's sockets are bound and connected by the
 *      supervisor, and it cannot point one anywhere else.
 *   3. Allowed with their arguments checked: sendto (with no address:
 *      send(2) on a connected socket), setsockopt (SO_LINGER only),
 *      getsockopt (SO_ERROR only), fcntl (the commands used), tgkill
 *      (SIGABRT to itself only, for abort(): the filter is given its pid
 *      when installed).  kill() is not allowed: no other process can be
 *      signalled.
 *   4. socket() fails with EACCES: a worker never makes a socket (the
 *      supervisor does), and libc's syslog() reconnecting must fail
 *      cleanly rather than kill.
 *   5. Anything else kills the process; the supervisor logs its SIGSYS.
 *
 * Installed after PR_SET_NO_NEW_PRIVS and before the first client byte
 * is read.  -seccomp=false skips it (a debugging aid).
 */
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH	AUDIT_ARCH_AARCH64
#else
#error "mmproxy's seccomp filter knows x86_64 and aarch64 only"
#endif

#define ARG_LO(n)	(offsetof(struct seccomp_data, args[n]) + \
			    (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4))
#define ARG_HI(n)	(offsetof(struct seccomp_data, args[n]) + \
			    (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 4 : 0))

#define LOAD(off)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v)		BPF_STMT(BPF_RET | BPF_K, (v))
#define KILL		RET(SECCOMP_RET_KILL_PROCESS)

/* nr: allowed. */
#define ALLOW(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	RET(SECCOMP_RET_ALLOW)

/* nr: fails with errno e. */
#define FAIL(nr, e) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	RET(SECCOMP_RET_ERRNO | (e))

/* nr: allowed when argument n (its low 32 bits) is v; else killed. */
#define ALLOW_ARG(nr, n, v) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 4), \
	LOAD(ARG_LO(n)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (v), 0, 1), \
	RET(SECCOMP_RET_ALLOW), \
	KILL

/* nr: allowed when argument n is a or b; else killed. */
#define ALLOW_ARG_EITHER(nr, n, a, b) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 5), \
	LOAD(ARG_LO(n)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (a), 1, 0), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (b), 0, 1), \
	RET(SECCOMP_RET_ALLOW), \
	KILL

/* nr: allowed when argument n is one of a, b, c, d; else killed. */
#define ALLOW_ARG4(nr, n, a, b, c, d) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 7), \
	LOAD(ARG_LO(n)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (a), 3, 0), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (b), 2, 0), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (c), 1, 0), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (d), 0, 1), \
	RET(SECCOMP_RET_ALLOW), \
	KILL

/* nr: allowed when arguments n and m are v and w; else killed. */
#define ALLOW_ARG2(nr, n, v, m, w) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 6), \
	LOAD(ARG_LO(n)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (v), 0, 3), \
	LOAD(ARG_LO(m)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (w), 0, 1), \
	RET(SECCOMP_RET_ALLOW), \
	KILL

/* nr: allowed unless argument n has a bit of mask set; else killed. */
#define ALLOW_ARG_NOT(nr, n, mask) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 4), \
	LOAD(ARG_LO(n)), \
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (mask), 1, 0), \
	RET(SECCOMP_RET_ALLOW), \
	KILL

/* nr: allowed when argument n, all 64 bits of it, is 0 (NULL); else
 * killed. */
#define ALLOW_ARG_NULL(nr, n) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 6), \
	LOAD(ARG_LO(n)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3), \
	LOAD(ARG_HI(n)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), \
	RET(SECCOMP_RET_ALLOW), \
	KILL

/*
 * A placeholder for the worker's own pid, filled in when the filter is
 * installed (sandbox_enter): no pid is this large.  A fresh image never
 * forks or starts a thread, so its pid is its only tid, for good.
 */
#define SELF_PID	0xfffffffeu

/* tgkill: only to this process's own thread, and only signal sig. */
#define ALLOW_TGKILL_SELF(sig) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_tgkill, 0, 8), \
	LOAD(ARG_LO(0)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SELF_PID, 0, 5), \
	LOAD(ARG_LO(1)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SELF_PID, 0, 3), \
	LOAD(ARG_LO(2)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sig), 0, 1), \
	RET(SECCOMP_RET_ALLOW), \
	KILL

static const struct sock_filter worker_filter[] = {
	/* 1. This architecture only, and not its x32 numbers. */
	LOAD(offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0),
	KILL,
	LOAD(offsetof(struct seccomp_data, nr)),
#ifdef __X32_SYSCALL_BIT
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1),
	KILL,
#endif

#ifdef MMPROXY_SANITIZE
	/* The ASan/UBSan/LSan runtime of the sanitizer build (never in the
	 * normal binary): its allocator's mappings and advice, its signal
	 * stack, and LeakSanitizer's exit-time check, which reads
	 * /proc/self and stops the process with a ptrace'd thread.  First,
	 * before the argument checks below would kill these calls. */
	ALLOW(__NR_madvise),
	ALLOW(__NR_mmap),
	ALLOW(__NR_mprotect),
	ALLOW(__NR_sigaltstack),
	ALLOW(__NR_rt_sigaction),
	ALLOW(__NR_sched_yield),
	ALLOW(__NR_prctl),
#ifdef __NR_open
	ALLOW(__NR_open),
#endif
	ALLOW(__NR_openat),
	ALLOW(__NR_newfstatat),
	ALLOW(__NR_fstat),
	ALLOW(__NR_lseek),
#ifdef __NR_getdents
	ALLOW(__NR_getdents),
#endif
	ALLOW(__NR_getdents64),
	ALLOW(__NR_readlinkat),
#ifdef __NR_readlink
	ALLOW(__NR_readlink),
#endif
	ALLOW(__NR_clone),
	ALLOW(__NR_ptrace),
	ALLOW(__NR_wait4),
	ALLOW(__NR_futex),
	ALLOW(__NR_getppid),
	ALLOW(__NR_kill),
	ALLOW(__NR_tgkill),
	ALLOW(__NR_rt_sigreturn),	/* from its signal handlers */
#endif

	/* 2. Moving bytes: the channel, the client, the upstreams, pipes.
	 * Sending only on connected sockets: sendto(2) with a NULL address
	 * (section 3), no sendmsg(2) or sendmmsg(2), whose addresses the
	 * filter cannot see (a worker never sends an fd, and writev(2)
	 * carries its channel's messages). */
	ALLOW(__NR_read),
	ALLOW(__NR_write),
	ALLOW(__NR_readv),
	ALLOW(__NR_writev),
	ALLOW(__NR_recvfrom),
	ALLOW(__NR_recvmsg),
	ALLOW(__NR_recvmmsg),
	ALLOW(__NR_splice),
	ALLOW(__NR_pipe2),
	ALLOW(__NR_shutdown),
	ALLOW(__NR_close),
	/* Waiting: poll(2), and ppoll, which libc's poll() is elsewhere. */
#ifdef __NR_poll
	ALLOW(__NR_poll),
#endif
	ALLOW(__NR_ppoll),
	/* Between polls of -spin: let another runnable worker go first. */
	ALLOW(__NR_sched_yield),
	/* No bind(2), no connect(2): the supervisor binds and connects
	 * every upstream socket (dial_channel.c).  getpeername: a peer whose
	 * address the hand-off did not carry. */
	ALLOW(__NR_getpeername),
	/* Memory, for malloc: never executable. */
	ALLOW(__NR_brk),
	ALLOW_ARG_NOT(__NR_mmap, 2, PROT_EXEC),
	ALLOW_ARG_NOT(__NR_mprotect, 2, PROT_EXEC),
	ALLOW(__NR_munmap),
	ALLOW(__NR_mremap),
	ALLOW(__NR_getrandom),		/* malloc's first call seeds with it */
	/* Memory given back: glibc's free() says MADV_DONTNEED, musl's
	 * (the lean build's) MADV_FREE. */
	ALLOW_ARG_EITHER(__NR_madvise, 2, MADV_DONTNEED, MADV_FREE),
	/* The clock: the vDSO, or these when it falls back. */
	ALLOW(__NR_clock_gettime),
	ALLOW(__NR_gettimeofday),
	/* Ending, and libc's abort().  Not rt_sigreturn: a worker has no
	 * signal handler to return from, and a forged signal frame is an
	 * exploit's favourite way to set every register. */
	ALLOW(__NR_exit),
	ALLOW(__NR_exit_group),
	ALLOW(__NR_rt_sigprocmask),
	ALLOW(__NR_restart_syscall),
	ALLOW(__NR_getpid),
	ALLOW(__NR_gettid),

	/* 3. With their arguments checked. */
	ALLOW_ARG_NULL(__NR_sendto, 4),
	/* setsockopt: SO_LINGER, the relay's reset of a client, no more. */
	ALLOW_ARG2(__NR_setsockopt, 1, SOL_SOCKET, 2, SO_LINGER),
	ALLOW_ARG2(__NR_getsockopt, 1, SOL_SOCKET, 2, SO_ERROR),
	ALLOW_ARG4(__NR_fcntl, 1, F_GETFL, F_SETFL, F_GETPIPE_SZ,
	    F_SETPIPE_SZ),
	/* abort(): SIGABRT to itself; another process is never signalled. */
	ALLOW_TGKILL_SELF(SIGABRT),

	/* 4. No socket of its own. */
	FAIL(__NR_socket, EACCES),

	/* 5. Everything else. */
	KILL,
};

#define FILTER_LEN	(sizeof(worker_filter) / sizeof(worker_filter[0]))

/*
 * Install the filter, with this process's pid where it says SELF_PID.
 * Returns 0, or -1 with errno set.
 */
int
sandbox_enter(void)
{
	struct sock_filter insns[FILTER_LEN];
	struct sock_fprog prog = { .len = (unsigned short)FILTER_LEN,
	    .filter = insns };
	size_t i;

	memcpy(insns, worker_filter, sizeof(insns));
	for (i = 0; i < FILTER_LEN; i++)
		if (BPF_CLASS(insns[i].code) == BPF_JMP &&
		    insns[i].k == SELF_PID)
			insns[i].k = (uint32_t)getpid();

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
