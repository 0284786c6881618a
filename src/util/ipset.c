#include "util/ipset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Text to family and 16 address bytes (v4 in the first 4); 0 or -EINVAL. A
 * v4-mapped v6 address is taken as the v4 address. */
static int ip_parse(const char *text, int *family, uint8_t addr[16]) {
  memset(addr, 0, 16);
  if (inet_pton(AF_INET, text, addr) == 1) {
    *family = 4;
    return 0;
  }
  if (inet_pton(AF_INET6, text, addr) != 1)
    return -EINVAL;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(addr, mapped, 12) == 0) {
    memmove(addr, addr + 12, 4);
    memset(addr + 4, 0, 12);
    *family = 4;
    return 0;
  }
  *family = 6;
  return 0;
}

static int prefix_match(const uint8_t *a, const uint8_t *net, int prefix) {
  int full = prefix / 8, rest = prefix % 8;
  if (memcmp(a, net, (size_t)full) != 0)
    return 0;
  if (rest == 0)
    return 1;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[full] & mask) == net[full];
}

/* One entry "addr" or "addr/prefix" (len bytes) into net. */
static int net_parse(const char *entry, size_t len, struct ipnet *net) {
  char text[64];
  if (len == 0 || len >= sizeof(text))
    return -EINVAL;
  memcpy(text, entry, len);
  text[len] = 0;
  char *slash = strchr(text, '/');
  if (slash)
    *slash = 0;
  if (ip_parse(text, &net->family, net->addr) < 0)
    return -EINVAL;
  int max = net->family == 4 ? 32 : 128;
  net->prefix = max;
  if (slash) {
    char *end;
    long p = strtol(slash + 1, &end, 10);
    if (slash[1] == 0 || *end || p < 0 || p > max)
      return -EINVAL;
    net->prefix = (int)p;
  }
  /* Host bits must be zero: "10.0.0.1/8" is a typing error, not a network. */
  uint8_t zeroed[16] = {0};
  memcpy(zeroed, net->addr, 16);
  int full = net->prefix / 8, rest = net->prefix % 8;
  if (rest)
    zeroed[full++] &= (uint8_t)(0xff << (8 - rest));
  memset(zeroed + full, 0, (size_t)(16 - full));
  return memcmp(zeroed, net->addr, 16) == 0 ? 0 : -EINVAL;
}

int ipset_parse(struct ipset *s, const char *text, const char **bad) {
  s->n = 0;
  const char *p = text;
  for (;;) {
    p += strspn(p, ", \t");
    if (*p == 0)
      return 0;
    size_t len = strcspn(p, ", \t");
    if (bad)
      *bad = p;
    if (s->n == IPSET_MAX)
      return -E2BIG;
    if (net_parse(p, len, &s->nets[s->n]) < 0)
      return -EINVAL;
    s->n++;
    p += len;
  }
}

int ipset_valid_ip(const char *ip) {
  int family;
  uint8_t addr[16];
  return ip_parse(ip, &family, addr) == 0;
}

int ipset_contains(const struct ipset *s, const char *ip) {
  int family;
  uint8_t addr[16];
  if (s->n == 0 || ip_parse(ip, &family, addr) < 0)
    return 0;
  for (size_t i = 0; i < s->n; i++) {
    if (s->nets[i].family == family && prefix_match(addr, s->nets[i].addr, s->nets[i].prefix))
      return 1;
  }
  return 0;
}
