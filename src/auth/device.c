#include "auth/device.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "util/b64url.h"

#define DEVICE_MAC_BYTES 16

int device_key_load(const char *path, uint8_t key[DEVICE_KEY_BYTES]) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, key, DEVICE_KEY_BYTES);
    close(fd);
    return n == DEVICE_KEY_BYTES ? 0 : -EINVAL;
  }
  if (errno != ENOENT)
    return -errno;
  randombytes_buf(key, DEVICE_KEY_BYTES);
  /* Written whole under a temporary name, then renamed: never half a key. */
  char tmp[1100];
  int len = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  if (len < 0 || (size_t)len >= sizeof(tmp))
    return -ENAMETOOLONG;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  int ok = write(fd, key, DEVICE_KEY_BYTES) == DEVICE_KEY_BYTES && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp, path) < 0) {
    unlink(tmp);
    return -EIO;
  }
  return 0;
}

/* HMAC-SHA-256(key, lowercase(name) "\n" nonce), the first 16 bytes. */
static void device_mac(const uint8_t key[DEVICE_KEY_BYTES], const char *name, size_t name_len,
                       const char *nonce, uint8_t mac[DEVICE_MAC_BYTES]) {
  crypto_auth_hmacsha256_state st;
  uint8_t full[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, key, DEVICE_KEY_BYTES);
  for (size_t i = 0; i < name_len; i++) {
    uint8_t ch = (uint8_t)name[i];
    if (ch >= 'A' && ch <= 'Z')
      ch = (uint8_t)(ch + 32);
    crypto_auth_hmacsha256_update(&st, &ch, 1);
  }
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)"\n", 1);
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)nonce, DEVICE_NONCE_LEN);
  crypto_auth_hmacsha256_final(&st, full);
  memcpy(mac, full, DEVICE_MAC_BYTES);
  sodium_memzero(full, sizeof(full));
}

void device_cookie_make(const uint8_t key[DEVICE_KEY_BYTES], const char *name, size_t name_len,
                        char out[DEVICE_COOKIE_LEN + 1]) {
  uint8_t raw[16], mac[DEVICE_MAC_BYTES];
  randombytes_buf(raw, sizeof(raw));
  sodium_bin2base64(out, DEVICE_NONCE_LEN + 1, raw, sizeof(raw),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  device_mac(key, name, name_len, out, mac);
  out[DEVICE_NONCE_LEN] = '.';
  sodium_bin2base64(out + DEVICE_NONCE_LEN + 1, DEVICE_COOKIE_LEN - DEVICE_NONCE_LEN, mac,
                    sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int device_cookie_check(const uint8_t key[DEVICE_KEY_BYTES], const char *name, size_t name_len,
                        const char *value, char nonce[DEVICE_NONCE_LEN + 1]) {
  uint8_t got[DEVICE_MAC_BYTES], want[DEVICE_MAC_BYTES];
  size_t got_len;
  if (strlen(value) != DEVICE_COOKIE_LEN || value[DEVICE_NONCE_LEN] != '.')
    return -1;
  const char *b64 = value + DEVICE_NONCE_LEN + 1;
  if (sodium_base642bin(got, sizeof(got), b64, DEVICE_COOKIE_LEN - DEVICE_NONCE_LEN - 1, NULL,
                        &got_len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) < 0 ||
      got_len != sizeof(got))
    return -1;
  if (!b64url_ok(value, DEVICE_NONCE_LEN))
    return -1;
  device_mac(key, name, name_len, value, want);
  if (sodium_memcmp(got, want, sizeof(got)) != 0)
    return -1;
  memcpy(nonce, value, DEVICE_NONCE_LEN);
  nonce[DEVICE_NONCE_LEN] = 0;
  return 0;
}
