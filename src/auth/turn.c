#include "auth/turn.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int turn_credentials(const char *secret, const char *user, uint64_t now_s, uint64_t ttl_s,
                     char username[TURN_USERNAME_MAX], char credential[TURN_CREDENTIAL_MAX]) {
  int n = snprintf(username, TURN_USERNAME_MAX, "%" PRIu64 ":%s", now_s + ttl_s, user);
  if (n < 0 || n >= TURN_USERNAME_MAX || secret[0] == 0)
    return -EINVAL;
  uint8_t mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, secret, strlen(secret),
                (const unsigned char *)username, (size_t)n, mac, sizeof(mac), &mac_len) == NULL)
    return -EINVAL;
  sodium_bin2base64(credential, TURN_CREDENTIAL_MAX, mac, mac_len, sodium_base64_VARIANT_ORIGINAL);
  return 0;
}

int turn_urls_check(const char *text) {
  const char *p = text;
  for (;;) {
    p += strspn(p, ", \t");
    if (*p == 0)
      return 0;
    size_t len = strcspn(p, ", \t");
    int scheme = (len > 5 && strncmp(p, "turn:", 5) == 0) ||
                 (len > 6 && strncmp(p, "turns:", 6) == 0) ||
                 (len > 5 && strncmp(p, "stun:", 5) == 0);
    if (!scheme)
      return -EINVAL;
    for (size_t i = 0; i < len; i++) {
      if ((unsigned char)p[i] < 0x21 || p[i] == '"' || p[i] == '\\' || (unsigned char)p[i] >= 0x7f)
        return -EINVAL;
    }
    p += len;
  }
}
