/* getifaddrs(3) filtered to what a remote browser could reach. */
#include "net/ifaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int ifaddr_usable(const char *addr) {
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, addr, &a4) == 1) {
    uint32_t h = ntohl(a4.s_addr);
    return h != 0 && (h >> 24) != 127;
  }
  if (inet_pton(AF_INET6, addr, &a6) == 1)
    return !IN6_IS_ADDR_LOOPBACK(&a6) && !IN6_IS_ADDR_LINKLOCAL(&a6) &&
           !IN6_IS_ADDR_UNSPECIFIED(&a6) && !IN6_IS_ADDR_V4MAPPED(&a6);
  return 0;
}

/* Appends addr to out unless it is there already; returns 1 if added. */
static int list_add(char *out, size_t size, const char *addr) {
  size_t len = strlen(out), alen = strlen(addr);
  for (const char *p = out; (p = strstr(p, addr)) != NULL; p += alen) {
    if ((p == out || p[-1] == ' ') && (p[alen] == ',' || p[alen] == 0))
      return 0;
  }
  if (len + alen + 3 > size)
    return 0;
  snprintf(out + len, size - len, "%s%s", len ? ", " : "", addr);
  return 1;
}

int ifaddr_list(int v6, char *out, size_t size) {
  struct ifaddrs *all;
  if (size == 0)
    return -EINVAL;
  out[0] = 0;
  if (getifaddrs(&all) < 0)
    return -errno;
  int n = 0;
  /* IPv4 first: the first address is the one preferred. */
  for (int pass = 0; pass < (v6 ? 2 : 1); pass++) {
    int family = pass ? AF_INET6 : AF_INET;
    for (struct ifaddrs *i = all; i && n < IFADDR_MAX; i = i->ifa_next) {
      if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family || !(i->ifa_flags & IFF_UP) ||
          (i->ifa_flags & IFF_LOOPBACK))
        continue;
      char text[INET6_ADDRSTRLEN];
      const void *a = family == AF_INET
                          ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                          : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
      if (inet_ntop(family, a, text, sizeof(text)) && ifaddr_usable(text))
        n += list_add(out, size, text);
    }
  }
  freeifaddrs(all);
  return n;
}
