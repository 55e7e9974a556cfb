/*
 * Host names in -l, -4 and -6 ("localhost:25566"), as go-mmproxy takes
 * them: looked up with getaddrinfo(3) by the supervisor before anything is
 * opened, and again on SIGHUP (supervisor.c).  The first address of the
 * flag's family is used.  A worker never resolves: it has no file, no
 * socket of its own and no name service under its filter.
 */
#include <sys/socket.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "logfmt.h"
#include "resolve.h"

#define HOST_MAX	253	/* a DNS name's longest text form */

/*
 * 1 if spec reads "host:port" with a host name (letters, digits, '-',
 * '.', '_'; not an address) and a non-empty port or service name.
 */
int
resolve_is_name(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	size_t i, hostlen;
	int letter = 0;

	if (colon == NULL || colon == spec || colon[1] == '\0')
		return 0;
	hostlen = (size_t)(colon - spec);
	if (hostlen > HOST_MAX)
		return 0;
	for (i = 0; i < hostlen; i++) {
		char c = spec[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			letter = 1;
		else if (!((c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_'))
			return 0;
	}
	return letter;
}

/*
 * Resolve "host:port" to the first address of family (AF_UNSPEC: any).
 * Returns 0, or -1 with what went wrong in err.
 */
int
resolve_hostport(const char *spec, int family, struct sockaddr_storage *out,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	char host[HOST_MAX + 1];
	const char *colon = strrchr(spec, ':');
	int rc;

	if (colon == NULL || (size_t)(colon - spec) > HOST_MAX) {
		snprintf(err, errlen, "want host:port");
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s", gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
		    ai->ai_addrlen <= sizeof(*out))
			break;
	if (ai == NULL) {
		freeaddrinfo(res);
		snprintf(err, errlen, "no address");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static void
resolve_one(const char *flag, const char *spec, int family,
    struct sockaddr_storage *out)
{
	char err[256];

	if (spec != NULL && resolve_hostport(spec, family, out, err,
	    sizeof(err)) == -1)
		fatalx("-%s %s: cannot resolve: %s", flag, spec, err);
}

/* At startup: every name given, or exit 1 naming the flag. */
void
resolve_names(struct options *opt)
{
	resolve_one("l", opt->listen_name, AF_UNSPEC, &opt->listen);
	resolve_one("4", opt->target4_name, AF_INET, &opt->target4);
	resolve_one("6", opt->target6_name, AF_INET6, &opt->target6);
}

/*
 * On SIGHUP: a target given by name is looked up again.  A name that no
 * longer resolves keeps its address, and says so.  Returns how many
 * targets changed.
 */
static int
reload_one(const char *flag, const char *spec, int family,
    struct sockaddr_storage *target)
{
	struct sockaddr_storage fresh;
	char err[256], qe[512], qs[2 * HOST_MAX + 16], old[ADDR_STRLEN],
	    now[ADDR_STRLEN];

	if (spec == NULL)
		return 0;
	addr_format(target, old, sizeof(old));
	logfmt_quote(qs, sizeof(qs), spec);
	if (resolve_hostport(spec, family, &fresh, err, sizeof(err)) == -1) {
		log_line(LOG_ALWAYS, "reload target%s_name=%s kept=%s error=%s",
		    flag, qs, old, logfmt_quote(qe, sizeof(qe), err));
		return 0;
	}
	if (addr_equal(&fresh, target))
		return 0;
	*target = fresh;
	addr_format(target, now, sizeof(now));
	log_line(LOG_ALWAYS, "reload target%s_name=%s target%s=%s was=%s",
	    flag, qs, flag, now, old);
	return 1;
}

int
resolve_reload(struct options *opt)
{
	return reload_one("4", opt->target4_name, AF_INET, &opt->target4) +
	    reload_one("6", opt->target6_name, AF_INET6, &opt->target6);
}
