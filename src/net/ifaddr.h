/* The machine's own addresses, for the media plane to announce when the
 * operator named none (media-announce unset, bound to every interface). */
#ifndef ONAIR_IFADDR_H
#define ONAIR_IFADDR_H

#include <stddef.h>

#define IFADDR_MAX 8 /* addresses listed, as media-announce takes */

/* Writes the up interfaces' addresses to out as "a, b, ...": IPv4 ones, and
 * with v6 also global IPv6 ones (not link-local), never loopback; at most
 * IFADDR_MAX. Returns how many (0: out is ""), or a negative errno. */
int ifaddr_list(int v6, char *out, size_t size);

/* 1 if addr (text) may go in an announce list: not loopback, not IPv6
 * link-local, not unspecified. */
int ifaddr_usable(const char *addr);

#endif
