/*
 * Command line, as go-mmproxy's (Go's flag package): one or two dashes,
 * "-flag value" or "-flag=value".  A bad value is one line naming the
 * flag and exit 2, before anything is opened.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "options.h"

#define WORKERS_MAX		4096
#define MAX_CONNS_MAX		65536
#define SECONDS_MAX		86400

struct flag {
	const char	*name;
	const char	*arg;		/* NULL: takes no value */
	void		(*set)(struct options *, const char *name, const char *val);
	const char	*help;
	int		 ours;		/* not one of go-mmproxy's flags */
};

static unsigned long long
parse_number(const char *name, const char *val, int base,
    unsigned long long min, unsigned long long max)
{
	unsigned long long v;
	char *end;

	if (val[0] == '-' || val[0] == '+' || val[0] == '\0' || val[0] == ' ')
		usage_error("-%s: invalid value \"%s\": want a whole number "
		    "from %llu to %llu", name, val, min, max);
	errno = 0;
	v = strtoull(val, &end, base);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		usage_error("-%s: invalid value \"%s\": want a whole number "
		    "from %llu to %llu", name, val, min, max);
	return v;
}

static void
set_listen(struct options *o, const char *name, const char *val)
{
	if (addr_parse_hostport(val, &o->listen) == -1)
		usage_error("-%s: invalid address \"%s\": want IPv4:port or "
		    "[IPv6]:port", name, val);
}

static void
set_target4(struct options *o, const char *name, const char *val)
{
	if (addr_parse_hostport(val, &o->target4) == -1 ||
	    o->target4.ss_family != AF_INET)
		usage_error("-%s: invalid address \"%s\": want IPv4:port",
		    name, val);
}

static void
set_target6(struct options *o, const char *name, const char *val)
{
	if (addr_parse_hostport(val, &o->target6) == -1 ||
	    o->target6.ss_family != AF_INET6)
		usage_error("-%s: invalid address \"%s\": want [IPv6]:port",
		    name, val);
}

static void
set_proto(struct options *o, const char *name, const char *val)
{
	if (strcmp(val, "tcp") == 0)
		o->udp = 0;
	else if (strcmp(val, "udp") == 0)
		usage_error("-%s: \"udp\" is not supported yet by this version",
		    name);
	else
		usage_error("-%s: invalid protocol \"%s\": want tcp or udp",
		    name, val);
}

static void
set_verbose(struct options *o, const char *name, const char *val)
{
	/* go-mmproxy takes any level; above 2 means everything. */
	o->verbose = (int)parse_number(name, val, 10, 0, 1000);
	if (o->verbose > 2)
		o->verbose = 2;
}

static void
set_mark(struct options *o, const char *name, const char *val)
{
	o->mark = (uint32_t)parse_number(name, val, 0, 0, UINT32_MAX);
}

static void
set_listeners(struct options *o, const char *name, const char *val)
{
	o->listeners = (unsigned)parse_number(name, val, 10, 1, LISTENERS_MAX);
}

static void
set_allowed(struct options *o, const char *name, const char *val)
{
	if (val[0] == '\0')
		usage_error("-%s: empty path", name);
	o->allowed_subnets_path = val;
}

static void
set_close_after(struct options *o, const char *name, const char *val)
{
	o->close_after = (unsigned)parse_number(name, val, 10, 0, SECONDS_MAX);
}

static void
set_header_timeout(struct options *o, const char *name, const char *val)
{
	o->header_timeout = (unsigned)parse_number(name, val, 10, 1, 3600);
}

static void
set_dial_timeout(struct options *o, const char *name, const char *val)
{
	o->dial_timeout = (unsigned)parse_number(name, val, 10, 1, 3600);
}

static void
set_workers(struct options *o, const char *name, const char *val)
{
	o->workers = (unsigned)parse_number(name, val, 10, 1, WORKERS_MAX);
}

static void
set_max_conns(struct options *o, const char *name, const char *val)
{
	o->max_conns = (unsigned)parse_number(name, val, 10, 1, MAX_CONNS_MAX);
}

static void
show_help(struct options *o, const char *name, const char *val)
{
	(void)o, (void)name, (void)val;
	flags_usage();
	exit(0);
}

static void
show_version(struct options *o, const char *name, const char *val)
{
	(void)o, (void)name, (void)val;
	printf("mmproxy %s\n", MMPROXY_VERSION);
	exit(0);
}

/* Sorted; the first group are go-mmproxy's flags, with its meanings. */
static const struct flag flags[] = {
	{ "4", "addr", set_target4,
	  "Address IPv4 traffic is forwarded to (default \"127.0.0.1:443\")", 0 },
	{ "6", "addr", set_target6,
	  "Address IPv6 traffic is forwarded to (default \"[::1]:443\")", 0 },
	{ "allowed-subnets", "file", set_allowed,
	  "File of allowed proxy subnets, one CIDR a line (default: all)", 0 },
	{ "close-after", "seconds", set_close_after,
	  "Seconds after which an idle UDP flow is closed (default 60)", 0 },
	{ "l", "addr", set_listen,
	  "Address the proxy listens on (default \"0.0.0.0:8443\")", 0 },
	{ "listeners", "n", set_listeners,
	  "Number of SO_REUSEPORT listening sockets (default 1)", 0 },
	{ "mark", "n", set_mark,
	  "Mark set on outbound packets (SO_MARK; default 0: none)", 0 },
	{ "p", "proto", set_proto,
	  "Protocol proxied: tcp or udp (default \"tcp\")", 0 },
	{ "v", "level", set_verbose,
	  "0: no per-connection logs; 1: errors; 2: every state change", 0 },
	/* Ours. */
	{ "dial-timeout", "seconds", set_dial_timeout,
	  "Seconds to wait for the upstream connect (default 10)", 1 },
	{ "h", NULL, show_help, "Print this help and exit", 1 },
	{ "header-timeout", "seconds", set_header_timeout,
	  "Seconds from accept for the PROXY header to arrive (default 5)", 1 },
	{ "help", NULL, show_help, NULL, 1 },
	{ "max-conns", "n", set_max_conns,
	  "Connections served at once; more wait in the backlog (default 1024)", 1 },
	{ "version", NULL, show_version, "Print the version and exit", 1 },
	{ "workers", "n", set_workers,
	  "Idle worker processes kept ready (default 8)", 1 },
};

void
flags_usage(void)
{
	size_t i;

	printf("usage: mmproxy [-4 addr] [-6 addr] [-allowed-subnets file]\n"
	    "               [-close-after seconds] [-dial-timeout seconds]\n"
	    "               [-header-timeout seconds] [-l addr] [-listeners n] "
	    "[-mark n]\n"
	    "               [-max-conns n] [-p tcp | udp] [-v level] "
	    "[-workers n]\n\n");
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
			if (eq != NULL)
				usage_error("-%s takes no value", f->name);
			val = NULL;
		} else if (eq != NULL)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			usage_error("-%s needs a value (%s)", f->name, f->arg);
		f->set(opt, f->name, val);
	}
	if (opt->workers > opt->max_conns)
		opt->workers = opt->max_conns;
}
