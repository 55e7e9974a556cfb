/* Tests of -allowed-subnets loading (fail closed, FILE:LINE) and matching. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "subnet.h"

static int passed, failed;

static void
check(int ok, const char *what, const char *detail)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL %s: %s\n", what, detail);
}

static const char *
write_file(const char *text)
{
	static char path[] = "/tmp/mmproxy-subnet-XXXXXX";
	int fd;

	strcpy(path, "/tmp/mmproxy-subnet-XXXXXX");
	if ((fd = mkstemp(path)) == -1 || write(fd, text, strlen(text)) !=
	    (ssize_t)strlen(text)) {
		perror("mkstemp");
		exit(2);
	}
	close(fd);
	return path;
}

/* Loading text (ports: as -allowed-destinations) fails, saying want_in_err. */
static void
load_fails_as(int ports, const char *text, const char *want_in_err)
{
	struct subnet_list l;
	char err[512], want[600];
	const char *path = write_file(text);
	int r = subnet_load(path, &l, ports, err, sizeof(err));

	snprintf(want, sizeof(want), "%s%s", path, want_in_err);
	check(r == -1, text, "loaded, want an error");
	if (r == -1)
		check(strstr(err, want) != NULL, text, err);
	else
		subnet_free(&l);
	unlink(path);
}

static void
load_fails(const char *text, const char *want_in_err)
{
	load_fails_as(0, text, want_in_err);
}

static void
load_fails_ports(const char *text, const char *want_in_err)
{
	load_fails_as(1, text, want_in_err);
}

static int
matches_port(const struct subnet_list *l, const char *ip, unsigned port)
{
	struct sockaddr_storage sa;

	if (addr_parse_ip(ip, strlen(ip), &sa) == -1) {
		printf("bad test address %s\n", ip);
		exit(2);
	}
	addr_set_port(&sa, port);
	return subnet_match_port(l, &sa);
}

static int
matches(const struct subnet_list *l, const char *ip)
{
	struct sockaddr_storage sa;

	if (addr_parse_ip(ip, strlen(ip), &sa) == -1) {
		printf("bad test address %s\n", ip);
		exit(2);
	}
	return subnet_match(l, &sa);
}

int
main(void)
{
	struct subnet_list l;
	char err[512];
	const char *path = write_file("# proxies\n\n  10.0.0.0/8  \n"
	    "192.0.2.128/25 # comment\r\n2001:db8::/32\n203.0.113.7/32\n"
	    "\t::1/128\n");

	check(subnet_load(path, &l, 0, err, sizeof(err)) == 0, "load", err);
	unlink(path);
	check(l.n == 5, "load", "want 5 subnets");
	check(matches(&l, "10.1.2.3"), "10.1.2.3", "want match");
	check(!matches(&l, "11.0.0.1"), "11.0.0.1", "want no match");
	check(matches(&l, "192.0.2.200"), "192.0.2.200", "want match");
	check(!matches(&l, "192.0.2.127"), "192.0.2.127", "want no match");
	check(matches(&l, "203.0.113.7"), "203.0.113.7", "want match");
	check(!matches(&l, "203.0.113.8"), "203.0.113.8", "want no match");
	check(matches(&l, "2001:db8:ffff::1"), "2001:db8:ffff::1", "want match");
	check(!matches(&l, "2001:db9::1"), "2001:db9::1", "want no match");
	check(matches(&l, "::ffff:10.9.9.9"), "v4-mapped", "want match as IPv4");
	check(matches(&l, "::1"), "::1", "want match");
	check(!matches(&l, "::2"), "::2", "want no match");

	check(l.warning[0] == '\0', "load", "a warning for a clean file");
	subnet_free(&l);
	check(l.v == NULL && l.n == 0, "free", "list not emptied");

	/* Host bits, as Go's net.ParseCIDR: the network, and one warning
	 * naming the first such line. */
	path = write_file("10.0.0.0/8\n192.0.2.77/25\n2001:db8::1/32\n");
	check(subnet_load(path, &l, 0, err, sizeof(err)) == 0, "host bits", err);
	check(l.n == 3, "host bits", "want 3 subnets");
	check(matches(&l, "192.0.2.1"), "192.0.2.1", "want match (/25)");
	check(!matches(&l, "192.0.2.200"), "192.0.2.200", "want no match");
	check(matches(&l, "2001:db8:ffff::9"), "2001:db8:ffff::9",
	    "want match (/32)");
	snprintf(err, sizeof(err), "%s:2: host bits set in \"192.0.2.77/25\": "
	    "taken as 192.0.2.0/25", path);
	check(strstr(l.warning, err) == l.warning, "host bits warning",
	    l.warning);
	unlink(path);
	subnet_free(&l);

	load_fails("10.0.0.0/8\nbanana\n", ":2: expected address/prefix");
	load_fails("10.0.0.0/33\n", ":1: prefix length too long");
	load_fails("10.0.0.0/\n", ":1: invalid prefix length");
	load_fails("10.0.0.0/08\n", ":1: invalid prefix length");
	load_fails("10.0.0/8\n", ":1: invalid address");
	load_fails("# nothing\n\n", ":2: no subnet");
	load_fails("", ":0: no subnet");
	/* -allowed-destinations: ports after the prefix. */
	path = write_file("192.0.2.0/24:443\n2001:db8::/32:1000-1999\n"
	    "10.0.0.0/8\n");
	check(subnet_load(path, &l, 1, err, sizeof(err)) == 0, "ports", err);
	unlink(path);
	check(matches_port(&l, "192.0.2.9", 443), "192.0.2.9:443", "want match");
	check(!matches_port(&l, "192.0.2.9", 444), "192.0.2.9:444",
	    "want no match");
	check(matches_port(&l, "2001:db8::5", 1999), "[2001:db8::5]:1999",
	    "want match");
	check(!matches_port(&l, "2001:db8::5", 2000), "[2001:db8::5]:2000",
	    "want no match");
	check(matches_port(&l, "10.1.1.1", 1), "10.1.1.1:1",
	    "want match (no port: all)");
	check(matches(&l, "192.0.2.9"), "192.0.2.9", "want match (address)");
	subnet_free(&l);
	load_fails("192.0.2.0/24:443\n", ":1: a port is not allowed here");
	load_fails_ports("192.0.2.0/24:\n", ":1: invalid port");
	load_fails_ports("192.0.2.0/24:2-1\n", ":1: port range ends before");
	load_fails_ports("192.0.2.0/24:65536\n", ":1: invalid port");
	check(subnet_load("/nonexistent/allowed", &l, 0, err, sizeof(err)) == -1 &&
	    strstr(err, "/nonexistent/allowed: No such file") != NULL,
	    "missing file", err);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
