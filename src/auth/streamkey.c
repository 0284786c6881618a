#include "auth/streamkey.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "auth/session.h"
#include "util/b64url.h"

static const char *const prefixes[] = {[KEY_STREAM] = "sk_", [KEY_WATCH] = "wt_"};

static int streamkey_shape_ok(enum key_kind kind, const char *key, size_t len) {
  return len == STREAMKEY_LEN && memcmp(key, prefixes[kind], 3) == 0 && b64url_ok(key + 3, len - 3);
}

int streamkey_new(struct db *db, enum key_kind kind, int64_t user_id, char key[STREAMKEY_LEN + 1],
                  int64_t *created_ms) {
  uint8_t raw[32], hash[32];
  randombytes_buf(raw, sizeof(raw));
  memcpy(key, prefixes[kind], 3);
  sodium_bin2base64(key + 3, STREAMKEY_LEN + 1 - 3, raw, sizeof(raw),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof(raw));
  crypto_hash_sha256(hash, (const unsigned char *)key, STREAMKEY_LEN);
  *created_ms = session_now_ms();
  return db_key_put(db, (enum db_key)kind, user_id, hash, *created_ms);
}

int streamkey_user(struct db *db, enum key_kind kind, const char *key, size_t len,
                   int64_t *user_id) {
  uint8_t hash[32];
  if (!streamkey_shape_ok(kind, key, len))
    return -ENOENT;
  crypto_hash_sha256(hash, (const unsigned char *)key, len);
  return db_key_find(db, (enum db_key)kind, hash, user_id);
}

int streamkey_info(struct db *db, enum key_kind kind, int64_t user_id, int64_t *created_ms) {
  return db_key_created(db, (enum db_key)kind, user_id, created_ms);
}

int streamkey_revoke(struct db *db, enum key_kind kind, int64_t user_id) {
  return db_key_delete(db, (enum db_key)kind, user_id);
}
