/*
 * How mmproxy was started: standalone (bind -l), systemd socket activation
 * with listening sockets (Accept=no) or with one accepted connection
 * (Accept=yes), or inetd style with the connection on fd 0 (xinetd,
 * ucspi tcpserver, s6).
 */
#ifndef MMPROXY_ACTIVATION_H
#define MMPROXY_ACTIVATION_H

#include "options.h"

enum launch_mode {
	LAUNCH_STANDALONE,
	LAUNCH_SYSTEMD_LISTEN,		/* Accept=no: fds[] are listeners */
	LAUNCH_SYSTEMD_ACCEPT,		/* Accept=yes: conn is the connection */
	LAUNCH_INETD,			/* conn (fd 0) is the connection */
};

#define ACTIVATION_NAMES_MAX	256

struct launch {
	enum launch_mode	mode;
	int			fds[LISTENERS_MAX];
	unsigned		nfds;
	int			conn;
	char			names[ACTIVATION_NAMES_MAX];	/* LISTEN_FDNAMES */
};

void		activation_detect(const struct options *opt, struct launch *l);
const char	*activation_mode_str(enum launch_mode mode);

#endif
