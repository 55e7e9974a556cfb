/*
 * Command line, as go-mmproxy's (Go's flag package): one or two dashes,
 * "-flag value" or "-flag=value".  A bad value is one line naming the
 * flag and exit 2, before anything is opened.
 * It fills struct options once; nothing else writes it, and nothing here
 * opens a file or a socket.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "options.h"
#include "resolve.h"

#define WORKERS_MAX		4096
#define MAX_CONNS_MAX		65536
#define SECONDS_MAX		86400
#define MAX_FLOWS_MAX		65536

struct flag {
	const char	*name;
	const char	*arg;		/* NULL: takes no value */
	void		(*set)(struct options *, const struct flag *,
			    const char *val);
	/* Numeric flags: an unsigned field of struct options and its range. */
	size_t		 field;
	unsigned	 min, max;
	int		 base;		/* 0: Go's spelling (go_parse_int) */
	int		 ours;		/* not one of go-mmproxy's flags */
	const char	*help;
};

#define NUMBER(member, lo, hi, b) \
	set_number, offsetof(struct options, member), lo, hi, b

_Static_assert(UINT_MAX >= UINT32_MAX, "-mark needs a 32-bit unsigned");

/* The value of digit c in base, or -1. */
static int
digit_value(char c, unsigned base)
{
	int v = -1;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'z')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'Z')
		v = c - 'A' + 10;
	return v >= 0 && (unsigned)v < base ? v : -1;
}

/*
 * An integer as go-mmproxy's flags take it (Go's strconv.ParseInt with
 * base 0): an optional sign, then 0x, 0o, 0b or 0 (octal) or none
 * (decimal), and '_' only between digits or after a prefix.  Returns 0
 * with *neg and *v set, or -1.  Values past 64 bits are -1 too.
 */
static int
go_parse_int(const char *s, int *neg, unsigned long long *v)
{
	unsigned base = 10;
	char saw = '^';		/* last: start, '0' digit, '_' underscore */
	int digits = 0, d;

	*neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' ||
	    s[1] == 'O' || s[1] == 'b' || s[1] == 'B')) {
		base = s[1] == 'x' || s[1] == 'X' ? 16 :
		    s[1] == 'o' || s[1] == 'O' ? 8 : 2;
		s += 2;
		saw = '0';
	} else if (s[0] == '0' && s[1] != '\0') {
		base = 8;
		s++;
		saw = '0';
	}
	for (*v = 0; *s != '\0'; s++) {
		if (*s == '_') {
			if (saw != '0')
				return -1;
			saw = '_';
			continue;
		}
		if ((d = digit_value(*s, base)) == -1 ||
		    *v > (ULLONG_MAX - (unsigned)d) / base)
			return -1;
		*v = *v * base + (unsigned)d;
		saw = '0';
		digits++;
	}
	return digits > 0 && saw != '_' ? 0 : -1;
}

static void
set_number(struct options *o, const struct flag *f, const char *val)
{
	unsigned long long v;
	char *end;
	int neg = 0, bad;

	if (f->base == 0)
		bad = go_parse_int(val, &neg, &v) == -1 || (neg && v != 0);
	else {
		errno = 0;
		v = strtoull(val, &end, f->base);
		/* strtoull accepts a sign and leading blanks: we do not. */
		bad = val[0] < '0' || val[0] > '9' || errno != 0 ||
		    *end != '\0';
	}
	if (bad || v < f->min || v > f->max)
		usage_error("-%s: invalid value \"%s\": want a whole number "
		    "from %u to %u", f->name, val, f->min, f->max);
	memcpy((char *)o + f->field, &(unsigned){ (unsigned)v },
	    sizeof(unsigned));
}

static void
set_verbose(struct options *o, const struct flag *f, const char *val)
{
	set_number(o, f, val);
	/* go-mmproxy takes any level; above 2 means everything. */
	if (o->verbose > 2)
		o->verbose = 2;
}

/*
 * Go's spelling ":port", with an empty host: for a listener every address
 * (Go's net.Listen: dual-stack [::]), for a target this host (Go's
 * net.Dial: loopback of the target's family).  Returns 0, or -1 if val is
 * not ":port".
 */
static int
parse_empty_host(const char *val, const char *host,
    struct sockaddr_storage *out)
{
	unsigned port;

	if (val[0] != ':' || addr_parse_port(val + 1, strlen(val + 1),
	    &port) == -1)
		return -1;
	if (addr_parse_hostport(host, out) == -1)
		return -1;
	addr_set_port(out, port);
	return 0;
}

static void
set_listen(struct options *o, const struct flag *f, const char *val)
{
	o->listen_dual = 0;
	o->listen_name = NULL;
	if (parse_empty_host(val, "[::]:0", &o->listen) == 0)
		o->listen_dual = 1;
	else if (resolve_is_name(val))
		o->listen_name = val;
	else if (addr_parse_hostport(val, &o->listen) == -1)
		usage_error("-%s: invalid address \"%s\": want IPv4:port, "
		    "[IPv6]:port, :port or host:port", f->name, val);
	o->listen_set = 1;
}

static void
set_inetd(struct options *o, const struct flag *f, const char *val)
{
	(void)f, (void)val;
	o->inetd = 1;
}

/*
 * A boolean flag, an int field of struct options: alone it is true; with
 * "=value", Go's strconv.ParseBool, as Go's flag package takes it.
 */
static void
set_bool(struct options *o, const struct flag *f, const char *val)
{
	static const char *yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *no[] = { "0", "f", "F", "false", "FALSE", "False" };
	size_t i;

	if (val == NULL) {
		memcpy((char *)o + f->field, &(int){ 1 }, sizeof(int));
		return;
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(val, yes[i]) == 0 || strcmp(val, no[i]) == 0) {
			memcpy((char *)o + f->field,
			    &(int){ strcmp(val, yes[i]) == 0 }, sizeof(int));
			return;
		}
	}
	usage_error("-%s: invalid value \"%s\": want true or false", f->name,
	    val);
}

static void
set_user(struct options *o, const struct flag *f, const char *val)
{
	if (val[0] == '\0')
		usage_error("-%s: empty user name", f->name);
	o->user = val;
}

static void
set_target4(struct options *o, const struct flag *f, const char *val)
{
	o->target4_name = NULL;
	if (parse_empty_host(val, "127.0.0.1:0", &o->target4) == 0)
		return;
	if (resolve_is_name(val)) {
		o->target4_name = val;
		return;
	}
	if (addr_parse_hostport(val, &o->target4) == -1 ||
	    o->target4.ss_family != AF_INET)
		usage_error("-%s: invalid address \"%s\": want IPv4:port, "
		    ":port or host:port", f->name, val);
}

static void
set_target6(struct options *o, const struct flag *f, const char *val)
{
	o->target6_name = NULL;
	if (parse_empty_host(val, "[::1]:0", &o->target6) == 0)
		return;
	if (resolve_is_name(val)) {
		o->target6_name = val;
		return;
	}
	if (addr_parse_hostport(val, &o->target6) == -1 ||
	    o->target6.ss_family != AF_INET6)
		usage_error("-%s: invalid address \"%s\": want [IPv6]:port, "
		    ":port or host:port", f->name, val);
}

static void
set_proto(struct options *o, const struct flag *f, const char *val)
{
	if (strcmp(val, "tcp") == 0)
		o->udp = 0;
	else if (strcmp(val, "udp") == 0)
		o->udp = 1;
	else
		usage_error("-%s: invalid protocol \"%s\": want tcp or udp",
		    f->name, val);
}

static void
set_relay(struct options *o, const struct flag *f, const char *val)
{
	if (strcmp(val, "copy") == 0)
		o->relay_splice = 0;
	else if (strcmp(val, "splice") == 0)
		o->relay_splice = 1;
	else
		usage_error("-%s: invalid value \"%s\": want copy or splice",
		    f->name, val);
}

static void
set_log_format(struct options *o, const struct flag *f, const char *val)
{
	if (strcmp(val, "text") == 0)
		o->log_json = 0;
	else if (strcmp(val, "json") == 0)
		o->log_json = 1;
	else
		usage_error("-%s: invalid value \"%s\": want text or json",
		    f->name, val);
}

static void
set_udp_framing(struct options *o, const struct flag *f, const char *val)
{
	if (strcmp(val, "v2") == 0)
		o->udp_framing = UDP_FRAMING_V2;
	else if (strcmp(val, "v2-first") == 0)
		o->udp_framing = UDP_FRAMING_V2_FIRST;
	else if (strcmp(val, "spp") == 0)
		o->udp_framing = UDP_FRAMING_SPP;
	else
		usage_error("-%s: invalid value \"%s\": want v2, v2-first or "
		    "spp", f->name, val);
	o->udp_framing_set = 1;
}

static void
set_worker_sched(struct options *o, const struct flag *f, const char *val)
{
	if (strcmp(val, "other") == 0)
		o->worker_batch = 0;
	else if (strcmp(val, "batch") == 0)
		o->worker_batch = 1;
	else
		usage_error("-%s: invalid value \"%s\": want other or batch",
		    f->name, val);
}

static void
set_allowed(struct options *o, const struct flag *f, const char *val)
{
	if (val[0] == '\0')
		usage_error("-%s: empty path", f->name);
	o->allowed_subnets_path = val;
}

static void
set_allowed_dest(struct options *o, const struct flag *f, const char *val)
{
	if (val[0] == '\0')
		usage_error("-%s: empty path", f->name);
	o->allowed_destinations_path = val;
}

static void
show_help(struct options *o, const struct flag *f, const char *val)
{
	(void)o, (void)f, (void)val;
	flags_usage();
	exit(0);
}

static void
show_version(struct options *o, const struct flag *f, const char *val)
{
	(void)o, (void)f, (void)val;
	printf("mmproxy %s\n", MMPROXY_VERSION);
	exit(0);
}

/* go-mmproxy's flags first, with its meanings; then ours.  Sorted in each. */
static const struct flag flags[] = {
	{ "4", "addr", set_target4, 0, 0, 0, 0, 0,
	  "Address IPv4 traffic is forwarded to (default \"127.0.0.1:443\")" },
	{ "6", "addr", set_target6, 0, 0, 0, 0, 0,
	  "Address IPv6 traffic is forwarded to (default \"[::1]:443\")" },
	{ "allowed-subnets", "file", set_allowed, 0, 0, 0, 0, 0,
	  "File of allowed proxy subnets, one CIDR a line (default: all)" },
	{ "close-after", "seconds", NUMBER(close_after, 0, SECONDS_MAX, 0), 0,
	  "Seconds after which an idle UDP flow is closed (default 60)" },
	{ "dynamic-destination", NULL, set_bool,
	  offsetof(struct options, dynamic_destination), 0, 0, 0, 0,
	  "Dial the PROXY header's destination instead of -4/-6, if it is this "
	  "host's or in -allowed-destinations (kzemek's go-mmproxy)" },
	{ "l", "addr", set_listen, 0, 0, 0, 0, 0,
	  "Address the proxy listens on (default \"0.0.0.0:8443\")" },
	{ "listen-transparent", NULL, set_bool,
	  offsetof(struct options, listen_transparent), 0, 0, 0, 0,
	  "IP_TRANSPARENT on the listening sockets, for a TPROXY rule (kzemek's "
	  "go-mmproxy)" },
	{ "listeners", "n", NUMBER(listeners, 1, LISTENERS_MAX, 0), 0,
	  "Number of SO_REUSEPORT listening sockets (default 1)" },
	{ "mark", "n", NUMBER(mark, 0, UINT32_MAX, 0), 0,
	  "Mark set on outbound packets (SO_MARK; default 0: none)" },
	{ "p", "proto", set_proto, 0, 0, 0, 0, 0,
	  "Protocol proxied: tcp or udp (default \"tcp\")" },
	{ "v", "level", set_verbose, offsetof(struct options, verbose), 0,
	  UINT32_MAX, 0, 0, "0: no per-connection logs; 1: errors; 2: every "
	  "state change (higher: 2)" },

	{ "allowed-destinations", "file", set_allowed_dest, 0, 0, 0, 0, 1,
	  "With -dynamic-destination: destinations beyond this host's own, "
	  "CIDR[:port[-port]] a line (default: none)" },
	{ "dial-timeout", "seconds", NUMBER(dial_timeout, 1, 3600, 10), 1,
	  "Seconds to wait for the upstream connect (default 10)" },
	{ "drain-timeout", "seconds", NUMBER(drain_timeout, 0, SECONDS_MAX, 10), 1,
	  "After SIGTERM, seconds live connections and flows may go on (default 30)" },
	{ "h", NULL, show_help, 0, 0, 0, 0, 1, "Print this help and exit" },
	{ "header-timeout", "seconds", NUMBER(header_timeout, 1, 3600, 10), 1,
	  "Seconds from accept for the PROXY header to arrive (default 5)" },
	{ "help", NULL, show_help, 0, 0, 0, 0, 1, NULL },
	{ "idle-timeout", "seconds", NUMBER(idle_timeout, 0, SECONDS_MAX, 10), 1,
	  "Close a TCP connection after this many seconds with no byte either "
	  "way (default 0: never)" },
	{ "inetd", NULL, set_inetd, 0, 0, 0, 0, 1,
	  "Serve the one connection on standard input (xinetd, tcpserver)" },
	{ "log-format", "text|json", set_log_format, 0, 0, 0, 0, 1,
	  "Log lines as event key=value (text) or one JSON object each "
	  "(default \"text\")" },
	{ "log-time", NULL, set_bool, offsetof(struct options, log_time), 0, 0,
	  0, 1, "Text lines carry ts= (default false: journald and syslog "
	  "add their own)" },
	{ "max-conns", "n", NUMBER(max_conns, 1, MAX_CONNS_MAX, 10), 1,
	  "Connections (UDP: balancer sockets) served at once (default 1024)" },
	{ "max-flows", "n", NUMBER(max_flows, 1, MAX_FLOWS_MAX, 10), 1,
	  "UDP flows (PROXY sources) one balancer socket may have (default 256)" },
	{ "notify-fd", "fd", NUMBER(notify_fd, 3, 1023, 10), 1,
	  "Write a newline to this fd once serving, for s6 (default: none)" },
	{ "relay", "copy|splice", set_relay, 0, 0, 0, 0, 1,
	  "How bytes are relayed (default \"copy\": faster to a local backend)" },
	{ "seccomp", NULL, set_bool, offsetof(struct options, seccomp), 0, 0,
	  0, 1,
	  "Workers run under their syscall filter (default true; =false to "
	  "debug)" },
	{ "spin", "n", NUMBER(spin, 0, 100000, 10), 1,
	  "Polls a worker makes, yielding between them, before it sleeps "
	  "(default 200; 0: never)" },
	{ "udp-framing", "v2|v2-first|spp", set_udp_framing, 0, 0, 0, 0, 1,
	  "How the balancer frames PROXY over UDP: v2 on every datagram, "
	  "v2 on the first (Spectrum), or SPP (default \"v2\")" },
	{ "user", "name", set_user, 0, 0, 0, 0, 1,
	  "After binding, run as this user with only CAP_NET_ADMIN (default: "
	  "stay)" },
	{ "version", NULL, show_version, 0, 0, 0, 0, 1,
	  "Print the version and exit" },
	{ "worker-jobs", "n", NUMBER(worker_jobs, 0, UINT32_MAX, 10), 1,
	  "Jobs a worker serves before it exits (default 0: no limit)" },
	{ "worker-sched", "other|batch", set_worker_sched, 0, 0, 0, 0, 1,
	  "Workers' scheduling policy, SCHED_OTHER or SCHED_BATCH (default "
	  "\"batch\")" },
	{ "workers", "n", NUMBER(workers, 1, WORKERS_MAX, 10), 1,
	  "Idle worker processes kept ready (default 8)" },
};

void
flags_usage(void)
{
	size_t i;

	printf("usage: mmproxy [-4 addr] [-6 addr] [-allowed-destinations file]\n"
	    "               [-allowed-subnets file] [-close-after seconds]\n"
	    "               [-dial-timeout seconds] [-dynamic-destination]\n"
	    "               [-drain-timeout seconds] [-notify-fd fd]\n"
	    "               [-h] [-header-timeout seconds] [-idle-timeout seconds]\n"
	    "               [-l addr] [-listen-transparent] [-listeners n] "
	    "[-mark n]\n"
	    "               [-inetd] [-log-format text | json] [-log-time]\n"
	    "               [-max-conns n] [-max-flows n] [-p tcp | udp]\n"
	    "               [-relay copy | splice] [-seccomp[=false]] "
	    "[-spin n]\n"
	    "               [-udp-framing v2 | v2-first | spp]\n"
	    "               [-user name] [-v level] [-version] [-worker-jobs n]\n"
	    "               [-worker-sched other | batch] [-workers n]\n\n");
	printf("go-mmproxy's flags, with its defaults and meanings:\n");
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (flags[i].help == NULL)
			continue;
		if (flags[i].ours && !flags[i - 1].ours)
			printf("\nmmproxy's own flags:\n");
		printf("  -%s%s%s\n    \t%s\n", flags[i].name,
		    flags[i].arg ? " " : "", flags[i].arg ? flags[i].arg : "",
		    flags[i].help);
	}
}

static void
defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	if (addr_parse_hostport("0.0.0.0:8443", &o->listen) == -1 ||
	    addr_parse_hostport("127.0.0.1:443", &o->target4) == -1 ||
	    addr_parse_hostport("[::1]:443", &o->target6) == -1)
		fatalx("internal error: bad default address");
	o->listeners = 1;
	o->close_after = 60;
	o->header_timeout = 5;
	o->dial_timeout = 10;
	o->workers = 8;
	o->max_conns = 1024;
	o->max_flows = 256;
	o->drain_timeout = 30;
	o->seccomp = 1;
	/* Spinning stops itself while the CPUs are busy (relay.c), and a
	 * batch worker lets the sender run on: both measured unpinned. */
	o->spin = 200;
	o->worker_batch = 1;
}

static const struct flag *
flag_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strlen(flags[i].name) == len &&
		    strncmp(flags[i].name, name, len) == 0)
			return &flags[i];
	return NULL;
}

/*
 * Fill opt from the command line; exits 2 with one line on stderr if any
 * argument is wrong.
 */
void
flags_parse(int argc, char **argv, struct options *opt)
{
	int i;

	defaults(opt);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val;
		const struct flag *f;
		size_t len;

		if (a[0] != '-' || a[1] == '\0')
			usage_error("unexpected argument \"%s\"", a);
		name = a + (a[1] == '-' ? 2 : 1);
		if (name[0] == '\0' || name[0] == '-' || name[0] == '=')
			usage_error("unexpected argument \"%s\"", a);
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if ((f = flag_find(name, len)) == NULL)
			usage_error("unknown flag \"-%.*s\"", (int)len, name);
		if (f->arg == NULL) {
			/* A boolean flag takes "=true" or "=false", as Go's. */
			if (eq != NULL && f->set != set_bool)
				usage_error("-%s takes no value", f->name);
			val = eq != NULL ? eq + 1 : NULL;
		} else if (eq != NULL)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			usage_error("-%s needs a value (%s)", f->name, f->arg);
		f->set(opt, f, val);
	}
	if (opt->workers > opt->max_conns)
		opt->workers = opt->max_conns;
	if (opt->inetd && opt->udp)
		usage_error("-inetd: not with -p udp: run mmproxy -p udp "
		    "standalone or with systemd ListenDatagram= (Accept=no)");
	if (opt->allowed_destinations_path != NULL && !opt->dynamic_destination)
		usage_error("-allowed-destinations: only with "
		    "-dynamic-destination");
	if (!opt->udp && opt->udp_framing_set)
		usage_error("-udp-framing: only with -p udp");
	/* Never "expire at once": every datagram would open a new flow. */
	if (opt->udp && opt->close_after == 0)
		usage_error("-close-after: 0 is not allowed with -p udp: want "
		    "1 to %u seconds", SECONDS_MAX);
}
