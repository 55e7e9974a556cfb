/* A worker's confinement: no capability, and its seccomp filter. */
#ifndef MMPROXY_SANDBOX_H
#define MMPROXY_SANDBOX_H

int	sandbox_drop_capabilities(void);
int	sandbox_enter(void);

#endif
