/* Is an address this host's own?  The kernel's routing decision, asked. */
#ifndef MMPROXY_LOCALADDR_H
#define MMPROXY_LOCALADDR_H

#include <sys/socket.h>

int	localaddr_is_local(const struct sockaddr_storage *sa);

#endif
