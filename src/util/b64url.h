/* The base64url alphabet (RFC 4648 5), for tokens checked before use. */
#ifndef ONAIR_B64URL_H
#define ONAIR_B64URL_H

#include <stddef.h>

/* 1 if every one of s's len bytes is A-Z a-z 0-9 - or _. */
static inline int b64url_ok(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '-' || ch == '_'))
      return 0;
  }
  return 1;
}

#endif
