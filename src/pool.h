/*
 * The supervisor's worker pool: pre-forked workers and their channels.
 * It knows workers, channels and hand-offs, not TCP or UDP: the protocol
 * side that uses it (tcp_listener.c or udp_listener.c) says, through
 * struct pool_user, what a worker's messages mean and what a job carries
 * beyond the caller's fds.
 */
#ifndef MMPROXY_POOL_H
#define MMPROXY_POOL_H

#include <sys/socket.h>
#include <sys/types.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "fdpass.h"
#include "options.h"
#include "spawn.h"

#define POOL_BACKOFF_MS	100	/* after EMFILE, ENOBUFS, a failed fork */

struct pool;
struct pool_worker;

/* What the pool remembers of a job it handed a worker. */
struct pool_job {
	uint32_t		conn_id;
	struct sockaddr_storage	peer;		/* the hand-off's peer, as given */
	struct sockaddr_storage	client;		/* the same, unmapped */
	struct sockaddr_storage	local;		/* the hand-off's local, as given */
};

/*
 * What a protocol side tells the pool.  A worker pointer given to a hook
 * is valid until the hook calls back into the pool (a hand-off may spawn
 * and move the workers).  Hooks that may be NULL say so.
 */
struct pool_user {
	void	*ctx;
	size_t	 msg_max;	/* the longest message a worker sends */
	int	 socket_channel;	/* each worker gets one (UDP) */
	int	 ctl_sndbuf;	/* SO_SNDBUFFORCE on each channel; 0: none */
	/* A one-byte message, b: w is idle again.  Returns 1 if more
	 * messages may follow at once, 0 if not. */
	int	(*idle)(void *ctx, struct pool_worker *w, uint8_t b);
	/* Any longer message, n bytes.  Returns NULL, or the word for how
	 * w broke the protocol: the pool kills it and logs that once. */
	const char *(*message)(void *ctx, struct pool_worker *w,
		    const uint8_t *m, size_t n);
	/* w is about to be handed h: append the fds the job takes beyond
	 * the caller's to fds, counting them in h->nfds; NULL: none. */
	void	(*job_prepare)(void *ctx, struct pool_worker *w,
		    struct handoff *h, int *fds);
	/* w has taken h; NULL: nothing to do. */
	void	(*job_sent)(void *ctx, struct pool_worker *w,
		    const struct handoff *h);
	/* w is going (its channel closed): forget it, free its side state. */
	void	(*gone)(void *ctx, struct pool_worker *w);
};

struct pool	*pool_new(const struct options *opt,
		    const struct spawn_image *img);
void		 pool_attach(struct pool *p, const struct pool_user *u);

pid_t		 pool_worker_pid(const struct pool_worker *w);
int		 pool_worker_ctl(const struct pool_worker *w);
int		 pool_worker_sockch(const struct pool_worker *w);
int		 pool_worker_busy(const struct pool_worker *w);
const struct sockaddr_storage *pool_worker_client(const struct pool_worker *w);
const struct pool_job *pool_worker_job(const struct pool_worker *w,
		    uint32_t conn_id);
void		**pool_worker_side(struct pool_worker *w);

pid_t		 pool_handoff(struct pool *p, const struct handoff *h,
		    const int *fds, const void *payload, const char *peer_s,
		    const char *extra);
int		 pool_send(struct pool *p, pid_t pid, const struct handoff *h,
		    const void *payload);
struct pool_worker *pool_next_idle(struct pool *p);

size_t		 pool_idle(const struct pool *p);
size_t		 pool_busy(const struct pool *p);
unsigned long long pool_handed(const struct pool *p);
size_t		 pool_size(const struct pool *p);
int		 pool_at_max(const struct pool *p);
void		 pool_back_off(struct pool *p);
int		 pool_backing_off(const struct pool *p);

void		 pool_fill(struct pool *p);
void		 pool_trim(struct pool *p);
void		 pool_reap(struct pool *p);
int		 pool_timeout(const struct pool *p);
size_t		 pool_fds(const struct pool *p, struct pollfd *pfd);
void		 pool_events(struct pool *p, const struct pollfd *pfd,
		    size_t n);

void		 pool_drain_begin(struct pool *p);
void		 pool_retire_idle(struct pool *p);
void		 pool_kill_all(struct pool *p);

#endif
