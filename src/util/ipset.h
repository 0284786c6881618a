/* A small set of IP networks ("127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"),
 * parsed from text, and the test whether an address is in it. Used for the
 * proxies whose X-Forwarded-* headers are believed. */
#ifndef ONAIR_IPSET_H
#define ONAIR_IPSET_H

#include <stddef.h>
#include <stdint.h>

#define IPSET_MAX 32 /* networks in one set */

struct ipset {
  struct ipnet {
    int family;       /* 4 or 6 */
    uint8_t addr[16]; /* network address, host bits zero */
    int prefix;       /* bits */
  } nets[IPSET_MAX];
  size_t n;
};

/* Parses a list separated by commas and/or spaces ("" is the empty set).
 * Returns 0, or -EINVAL with *bad pointing at the entry that is not an
 * address or network (-E2BIG past IPSET_MAX). */
int ipset_parse(struct ipset *s, const char *text, const char **bad);
/* 1 if ip is an IPv4 or IPv6 address in text form. */
int ipset_valid_ip(const char *ip);
/* 1 if the address (text, v4 or v6, also v4-mapped v6) is in the set. */
int ipset_contains(const struct ipset *s, const char *ip);

#endif
