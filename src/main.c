/*
 * mmproxy: unwrap the PROXY protocol and connect to the backend from the
 * client's own address, so an unmodified backend sees the real client.
 * main() only calls the steps: flags, launch mode, listeners, privileges,
 * then the supervisor or the one-connection worker.  Nothing here touches
 * a client.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "activation.h"
#include "addr.h"
#include "dial.h"
#include "listener.h"
#include "log.h"
#include "logfmt.h"
#include "notify.h"
#include "one_conn.h"
#include "options.h"
#include "privilege.h"
#include "proctitle.h"
#include "resolve.h"
#include "routecheck.h"
#include "spawn.h"
#include "supervisor.h"
#include "worker.h"

/*
 * Started with fd 0, 1 or 2 closed, our first sockets would take those
 * numbers and log lines would go to a client.
 */
static void
stdio_ensure_open(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= STDERR_FILENO)
		;
	if (fd == -1)
		_exit(1);
	close(fd);
}

static void
allowed_subnets_load(struct options *opt)
{
	char err[512];

	if (opt->allowed_subnets_path == NULL)
		return;
	if (subnet_load(opt->allowed_subnets_path, &opt->allowed, 0, err,
	    sizeof(err)) == -1)
		fatalx("-allowed-subnets: %s", err);
	if (opt->allowed.warning[0] != '\0')
		log_warning("-allowed-subnets: %s",
		    opt->allowed.warning);
}

static void
allowed_destinations_load(struct options *opt)
{
	char err[512];

	if (opt->allowed_destinations_path == NULL)
		return;
	if (subnet_load(opt->allowed_destinations_path, &opt->allowed_dest, 1,
	    err, sizeof(err)) == -1)
		fatalx("-allowed-destinations: %s", err);
	if (opt->allowed_dest.warning[0] != '\0')
		log_warning("-allowed-destinations: %s",
		    opt->allowed_dest.warning);
}

/*
 * The sanitizer build's filter lets the sanitizer's runtime open files,
 * trace, fork and map executable memory (sandbox.c): it is no sandbox,
 * and its start line says so.
 */
#ifdef MMPROXY_SANITIZE
#define BUILD_NOTE	" build=sanitizer sandbox=none"
#else
#define BUILD_NOTE	""
#endif

/* " key=value" for a name given on the command line, logfmt-quoted. */
static void
append_name(char *buf, size_t len, const char *key, const char *name)
{
	char q[2 * 280];

	if (name != NULL)
		snprintf(buf + strlen(buf), len - strlen(buf), " %s=%s", key,
		    logfmt_quote(q, sizeof(q), name));
}

/* " listen_name=... target4_name=..." for the names given, or "". */
static void
format_names(const struct options *opt, char *buf, size_t len)
{
	buf[0] = '\0';
	append_name(buf, len, "listen_name", opt->listen_name);
	append_name(buf, len, "target4_name", opt->target4_name);
	append_name(buf, len, "target6_name", opt->target6_name);
}

static void
log_start(const struct options *opt, const struct launch *l)
{
	char where[ADDR_STRLEN + ACTIVATION_NAMES_MAX],
	    lis[2 * (ADDR_STRLEN + ACTIVATION_NAMES_MAX)], t4[ADDR_STRLEN],
	    t6[ADDR_STRLEN], names[3 * 2 * 280], allowed[512];

	/* systemd's FileDescriptorName= may hold spaces, '"' and '='. */
	if (l->mode == LAUNCH_SYSTEMD_LISTEN)
		snprintf(where, sizeof(where), "systemd%s%s",
		    l->names[0] ? ":" : "", l->names);
	else
		addr_format(&opt->listen, where, sizeof(where));
	logfmt_quote(lis, sizeof(lis), where);
	addr_format(&opt->target4, t4, sizeof(t4));
	addr_format(&opt->target6, t6, sizeof(t6));
	format_names(opt, names, sizeof(names));
	logfmt_quote(allowed, sizeof(allowed), opt->allowed_subnets_path != NULL ?
	    opt->allowed_subnets_path : "any");
	if (opt->udp)
		log_line(LOG_ALWAYS, "start version=%s mode=%s listen=%s "
		    "proto=udp listeners=%u target4=%s target6=%s "
		    "allowed_subnets=%s close_after=%u workers=%u max_conns=%u "
		    "max_flows=%u%s%s", MMPROXY_VERSION,
		    activation_mode_str(l->mode), lis, l->nfds, t4, t6,
		    allowed,
		    opt->close_after, opt->workers, opt->max_conns,
		    opt->max_flows, names, BUILD_NOTE);
	else
		log_line(LOG_ALWAYS, "start version=%s mode=%s listen=%s "
		    "proto=tcp listeners=%u target4=%s target6=%s "
		    "allowed_subnets=%s header_timeout=%u workers=%u "
		    "max_conns=%u%s%s", MMPROXY_VERSION,
		    activation_mode_str(l->mode), lis, l->nfds, t4, t6,
		    allowed,
		    opt->header_timeout, opt->workers, opt->max_conns, names,
		    BUILD_NOTE);
}

/* ps: the supervisor and its address, in place of its command line. */
static void
supervisor_title(const struct options *opt, const struct launch *l)
{
	char lis[ADDR_STRLEN];

	if (l->mode != LAUNCH_STANDALONE && l->mode != LAUNCH_SYSTEMD_LISTEN)
		return;
	if (l->mode == LAUNCH_SYSTEMD_LISTEN)
		snprintf(lis, sizeof(lis), "systemd sockets");
	else
		addr_format(&opt->listen, lis, sizeof(lis));
	proctitle_set("mmproxy: supervisor %s %s", opt->udp ? "udp" : "tcp",
	    lis);
}

/* Fail at startup, in one line that says what to do, not on every client. */
static void
privilege_check(const struct options *opt)
{
	const char *what = "IP_TRANSPARENT";

	if (!privilege_has_net_admin())
		errno = EPERM;
	else if (dial_check_privilege(opt->mark, &what) == 0)
		return;
	if (errno == EPERM || errno == EACCES)
		fatalx("%s: %s: mmproxy needs CAP_NET_ADMIN: run it as root, or "
		    "grant it (setcap cap_net_admin+ep on the binary, or "
		    "AmbientCapabilities=CAP_NET_ADMIN in its unit)", what,
		    strerror(errno));
	fatal("%s", what);
}

/*
 * A listener anyone may reach, with no -allowed-subnets: anyone who can
 * connect names any client (loopback only is refused).  Said once, at
 * startup, for the first such listener.
 */
static void
open_listener_warn(const struct options *opt, const int *fds, unsigned n)
{
	char where[ADDR_STRLEN];
	unsigned i;

	if (opt->allowed_subnets_path != NULL)
		return;
	for (i = 0; i < n; i++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);

		if (getsockname(fds[i], (struct sockaddr *)&sa, &len) == -1)
			continue;
		addr_unmap(&sa);
		if (addr_is_loopback(&sa))
			continue;
		addr_format(&sa, where, sizeof(where));
		log_warning("listening on %s with no "
		    "-allowed-subnets: any host that reaches it may name any "
		    "client address; list your load balancers with "
		    "-allowed-subnets", where);
		return;
	}
}

int
main(int argc, char **argv)
{
	static struct options opt;
	static struct launch launch;
	static struct spawn_image img;
	static struct run_as ra;

	proctitle_init(argc, argv);
	stdio_ensure_open();
	log_open();
	if (spawn_is_worker(argc, argv))
		spawn_worker_boot();
	flags_parse(argc, argv, &opt);
	log_init((int)opt.verbose);
	log_format(opt.log_json, opt.log_time);
	resolve_names(&opt);
	allowed_subnets_load(&opt);
	allowed_destinations_load(&opt);
	privilege_resolve(opt.user, &ra);
	notify_init(opt.notify_fd != 0 ? (int)opt.notify_fd : -1);
	/* A write to a vanished peer must be an EPIPE, not a death. */
	signal(SIGPIPE, SIG_IGN);
	activation_detect(&opt, &launch);
	privilege_check(&opt);
	dial_init();
	switch (launch.mode) {
	case LAUNCH_SYSTEMD_ACCEPT:
	case LAUNCH_INETD:
		return one_conn_serve(&opt, &ra, launch.conn,
		    activation_mode_str(launch.mode));
	case LAUNCH_SYSTEMD_LISTEN:
		spawn_open_self(&img, argv[0]);
		break;
	case LAUNCH_STANDALONE:
		spawn_open_self(&img, argv[0]);
		listeners_open(&opt, launch.fds);
		launch.nfds = opt.listeners;
		break;
	}
	log_start(&opt, &launch);
	supervisor_title(&opt, &launch);
	open_listener_warn(&opt, launch.fds, launch.nfds);
	routecheck_warn(&opt.target4, &opt.target6);
	privilege_drop(&ra, opt.udp);
	spawn_check(&img);
	supervisor_run(&opt, &img, launch.fds, launch.nfds);
}
