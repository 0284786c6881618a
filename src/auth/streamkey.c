#include "auth/streamkey.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "auth/session.h"

static int streamkey_shape_ok(const char *key, size_t len) {
  size_t n = sizeof(STREAMKEY_PREFIX) - 1;
  if (len != STREAMKEY_LEN || memcmp(key, STREAMKEY_PREFIX, n) != 0)
    return 0;
  for (size_t i = n; i < len; i++) {
    char ch = key[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '-' || ch == '_'))
      return 0;
  }
  return 1;
}

int streamkey_new(struct db *db, int64_t user_id, char key[STREAMKEY_LEN + 1],
                  int64_t *created_ms) {
  size_t n = sizeof(STREAMKEY_PREFIX) - 1;
  uint8_t raw[32], hash[32];
  randombytes_buf(raw, sizeof(raw));
  memcpy(key, STREAMKEY_PREFIX, n);
  sodium_bin2base64(key + n, STREAMKEY_LEN + 1 - n, raw, sizeof(raw),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof(raw));
  crypto_hash_sha256(hash, (const unsigned char *)key, STREAMKEY_LEN);
  *created_ms = session_now_ms();
  return db_streamkey_put(db, user_id, hash, *created_ms);
}

int streamkey_user(struct db *db, const char *key, size_t len, int64_t *user_id) {
  uint8_t hash[32];
  if (!streamkey_shape_ok(key, len))
    return -ENOENT;
  crypto_hash_sha256(hash, (const unsigned char *)key, len);
  return db_streamkey_find(db, hash, user_id);
}

int streamkey_info(struct db *db, int64_t user_id, int64_t *created_ms) {
  return db_streamkey_created(db, user_id, created_ms);
}

int streamkey_revoke(struct db *db, int64_t user_id) { return db_streamkey_delete(db, user_id); }
