/*
 * Telling a service manager how we are: systemd's notification socket
 * ($NOTIFY_SOCKET, sd_notify(3)'s protocol, without libsystemd) and s6's
 * notification fd (-notify-fd: a newline once ready).
 */
#ifndef MMPROXY_NOTIFY_H
#define MMPROXY_NOTIFY_H

void	notify_init(int notify_fd);
void	notify_ready(void);
void	notify_state(const char *state);

#endif
