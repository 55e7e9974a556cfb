/* A worker's seccomp filter. */
#ifndef MMPROXY_SANDBOX_H
#define MMPROXY_SANDBOX_H

int	sandbox_enter(void);

#endif
