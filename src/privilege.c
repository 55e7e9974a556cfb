/*
 * Least privilege for the supervisor, and -user.  Once the listeners are
 * bound, the supervisor needs one capability: CAP_NET_ADMIN, to set
 * IP_TRANSPARENT and SO_MARK on the upstream sockets it prepares (and
 * SO_SNDBUFFORCE).  A UDP supervisor also keeps CAP_NET_BIND_SERVICE when
 * it has it: its per-peer sockets bind the listening port, which may be
 * a privileged one.  Everything else goes, and with -user NAME so does
 * root: the process runs as NAME from then on.  Workers give up even
 * these (sandbox.c).
 * It never touches a socket or a client.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privilege.h"

#define CAP_BIT(c)	((uint32_t)1 << (c))	/* both are below 32 */

/* Look NAME up at startup, while the files are there.  Fatal if unknown. */
void
privilege_resolve(const char *user, struct run_as *ra)
{
	struct passwd *pw;

	memset(ra, 0, sizeof(*ra));
	if (user == NULL)
		return;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		usage_error("-user: no user \"%s\"%s%s", user,
		    errno ? ": " : "", errno ? strerror(errno) : "");
	ra->set = 1;
	ra->uid = pw->pw_uid;
	ra->gid = pw->pw_gid;
}

static int
caps_get(struct __user_cap_data_struct *d)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

	return (int)syscall(SYS_capget, &h, d);
}

/*
 * 1 if CAP_NET_ADMIN is ours (effective), else 0.  IP_TRANSPARENT also
 * takes CAP_NET_RAW, which Docker grants by default: a start check that
 * only set the option would pass, and privilege_drop() would then fail.
 */
int
privilege_has_net_admin(void)
{
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	return caps_get(d) == 0 && (d[0].effective & CAP_BIT(CAP_NET_ADMIN));
}

/*
 * Keep only the capabilities in keep (bits of the first 32), effective
 * and permitted; none inheritable or ambient.  0 drops them all: what a
 * worker does (worker_confine), and what an exec'd worker of a root
 * supervisor, or of a binary with file capabilities, needs.
 * Returns 0, or -1 with errno set.
 */
int
privilege_keep_only(uint32_t keep)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	/* EINVAL: a kernel without ambient capabilities has none to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		return -1;
	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = keep;
	return (int)syscall(SYS_capset, &h, d);
}

/* Become ra's user, keeping the permitted capabilities across setuid. */
static int
become_user(const struct run_as *ra)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
		return -1;
	if (getuid() == 0 && setgroups(0, NULL) == -1)
		return -1;
	if (setresgid(ra->gid, ra->gid, ra->gid) == -1 ||
	    setresuid(ra->uid, ra->uid, ra->uid) == -1)
		return -1;
	return prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

/*
 * Where we may (CAP_SETPCAP: a root supervisor), make sure no worker ever
 * holds a capability, not even between its exec and its confinement: the
 * bounding set loses every capability but keep, and a uid 0 that executes
 * gains none (SECBIT_NOROOT, locked).  Without CAP_SETPCAP (a user given
 * CAP_NET_ADMIN alone) there is nothing an exec could gain.
 * Returns 0, or -1 with errno set.
 */
static int
bound_to(uint32_t keep)
{
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	int c;

	if (caps_get(d) == -1)
		return -1;
	if (!(d[0].effective & CAP_BIT(CAP_SETPCAP)))
		return 0;
	for (c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
		if ((c >= 32 || !(keep & CAP_BIT(c))) &&
		    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1)
			return -1;
	return prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED,
	    0, 0, 0);
}

/*
 * The supervisor, after binding: become ra's user (if set) and keep only
 * CAP_NET_ADMIN (UDP: and CAP_NET_BIND_SERVICE, if it has it), none of
 * them inheritable or ambient, so an exec'd worker starts with nothing.
 * Fatal, in one line, if any step fails.
 */
void
privilege_drop(const struct run_as *ra, int udp)
{
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	uint32_t keep = CAP_BIT(CAP_NET_ADMIN);

	if (caps_get(d) == -1)
		fatal("reading our capabilities");
	if (udp)
		keep |= d[0].permitted & CAP_BIT(CAP_NET_BIND_SERVICE);
	if (bound_to(keep) == -1)
		fatal("dropping the capability bounding set");
	privilege_become(ra);
	if (privilege_keep_only(keep) == -1)
		fatal("keeping only CAP_NET_ADMIN");
}

/*
 * Become ra's user, if set, keeping the permitted capabilities.  Fatal
 * in one line on error.  -inetd / Accept=yes call it alone: the one
 * process that serves is a worker, which then keeps nothing.
 */
void
privilege_become(const struct run_as *ra)
{
	if (ra->set && become_user(ra) == -1)
		fatal("-user: becoming uid %u gid %u", (unsigned)ra->uid,
		    (unsigned)ra->gid);
}
