/* Socket addresses: parsing "ip:port" and "[ip6]:port", formatting, unmapping. */
#ifndef MMPROXY_ADDR_H
#define MMPROXY_ADDR_H

#include <sys/socket.h>
#include <stddef.h>

/* Room for "[ffff:...:255.255.255.255]:65535" and a NUL. */
#define ADDR_STRLEN	64

int		addr_parse_ip(const char *s, size_t len, struct sockaddr_storage *out);
int		addr_parse_port(const char *s, size_t len, unsigned *port);
int		addr_parse_hostport(const char *s, struct sockaddr_storage *out);
socklen_t	addr_len(const struct sockaddr_storage *sa);
int		addr_equal(const struct sockaddr_storage *a,
		    const struct sockaddr_storage *b);
unsigned	addr_port(const struct sockaddr_storage *sa);
void		addr_set_port(struct sockaddr_storage *sa, unsigned port);
void		addr_unmap(struct sockaddr_storage *sa);
int		addr_is_unusable_source(const struct sockaddr_storage *sa);
int		addr_is_loopback(const struct sockaddr_storage *sa);
int		addr_loopback_claimed(const struct sockaddr_storage *src,
		    const struct sockaddr_storage *peer);
void		addr_format(const struct sockaddr_storage *sa, char *buf, size_t len);

#endif
