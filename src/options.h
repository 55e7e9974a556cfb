/* The configuration, filled once by flags_parse() and read-only after. */
#ifndef MMPROXY_OPTIONS_H
#define MMPROXY_OPTIONS_H

#include <sys/socket.h>
#include <stdint.h>

#include "subnet.h"

#define MMPROXY_VERSION	"0.1.0"
#define LISTENERS_MAX	256

/* -udp-framing: how a balancer frames PROXY over UDP (PROXY-SPEC). */
enum udp_framing {
	UDP_FRAMING_V2 = 0,		/* v2 on every datagram */
	UDP_FRAMING_V2_FIRST,		/* v2 once per balancer socket (Spectrum) */
	UDP_FRAMING_SPP,		/* Simple Proxy Protocol, both ways */
};

struct options {
	struct sockaddr_storage	 listen;
	int			 listen_set;	/* -l given */
	int			 listen_dual;	/* -l :port: [::], IPv4 too */
	int			 listen_transparent;	/* for TPROXY */
	/* Host names given instead of addresses (resolve.c); else NULL. */
	const char		*listen_name;
	const char		*target4_name;
	const char		*target6_name;
	int			 inetd;		/* -inetd */
	struct sockaddr_storage	 target4;
	struct sockaddr_storage	 target6;
	int			 udp;		/* -p udp */
	int			 udp_framing;	/* enum udp_framing */
	int			 udp_framing_set;	/* -udp-framing given */
	unsigned		 verbose;
	int			 log_json;	/* -log-format json */
	int			 log_time;	/* -log-time */
	unsigned		 mark;		/* SO_MARK, 32 bits */
	unsigned		 listeners;
	const char		*allowed_subnets_path;
	struct subnet_list	 allowed;	/* used when path != NULL */
	int			 dynamic_destination;	/* the header's dst */
	const char		*allowed_destinations_path;
	struct subnet_list	 allowed_dest;	/* beyond this host's own */
	unsigned		 close_after;	/* seconds, UDP */
	unsigned		 header_timeout;	/* seconds */
	unsigned		 dial_timeout;	/* seconds */
	unsigned		 idle_timeout;	/* seconds, TCP; 0: none */
	unsigned		 workers;	/* idle workers kept ready */
	unsigned		 worker_jobs;	/* before it exits; 0: no limit */
	unsigned		 max_conns;	/* connections (UDP: peers) at once */
	unsigned		 max_flows;	/* UDP flows per peer */
	int			 relay_splice;	/* -relay splice */
	unsigned		 spin;		/* -spin: polls before sleeping */
	int			 worker_batch;	/* -worker-sched batch */
	unsigned		 drain_timeout;	/* seconds, after SIGTERM */
	unsigned		 notify_fd;	/* -notify-fd; 0: none */
	int			 seccomp;	/* -seccomp, on by default */
	const char		*user;		/* -user; NULL: stay who we are */
};

void	flags_parse(int argc, char **argv, struct options *opt);
void	flags_usage(void);

#endif
