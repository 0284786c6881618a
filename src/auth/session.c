#include "auth/session.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "util/b64url.h"

int64_t session_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int session_token_ok(const char *token) {
  size_t n = strlen(token);
  return n == SESSION_TOKEN_LEN && b64url_ok(token, n);
}

static void session_hash(const char *token, uint8_t out[32]) {
  crypto_hash_sha256(out, (const unsigned char *)token, strlen(token));
}

static int session_new(struct db *db, int64_t user_id, int64_t ttl_ms, const char *id_token,
                       char token[SESSION_TOKEN_LEN + 1]) {
  uint8_t raw[16], hash[32];
  randombytes_buf(raw, sizeof(raw));
  sodium_bin2base64(token, SESSION_TOKEN_LEN + 1, raw, sizeof(raw),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof(raw));
  session_hash(token, hash);
  int64_t expires = session_now_ms() + ttl_ms;
  if (id_token)
    return db_session_put_oidc(db, hash, user_id, expires, id_token);
  return db_session_put(db, hash, user_id, expires);
}

int session_create(struct db *db, int64_t user_id, int64_t ttl_ms,
                   char token[SESSION_TOKEN_LEN + 1]) {
  return session_new(db, user_id, ttl_ms, NULL, token);
}

int session_create_oidc(struct db *db, int64_t user_id, int64_t ttl_ms, const char *id_token,
                        char token[SESSION_TOKEN_LEN + 1]) {
  return session_new(db, user_id, ttl_ms, id_token, token);
}

int session_id_token(struct db *db, const char *token, char *out, size_t size) {
  uint8_t hash[32];
  if (!session_token_ok(token))
    return -ENOENT;
  session_hash(token, hash);
  return db_session_id_token(db, hash, out, size);
}

int session_lookup(struct db *db, const char *token, int64_t *user_id) {
  uint8_t hash[32];
  if (!session_token_ok(token))
    return -ENOENT;
  session_hash(token, hash);
  return db_session_get(db, hash, session_now_ms(), user_id);
}

int session_destroy(struct db *db, const char *token) {
  uint8_t hash[32];
  if (!session_token_ok(token))
    return 0;
  session_hash(token, hash);
  return db_session_delete(db, hash);
}
