/* Sign-in through an OpenID Connect provider: discovery, the JWKS cache,
 * and the authorization code flow with PKCE (S256), state and nonce kept
 * here, one use each. Every call to the provider goes through the loop's
 * HTTP client; nothing blocks. */
#ifndef ONAIR_OIDC_H
#define ONAIR_OIDC_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#define OIDC_STATE_LEN 43 /* base64url of 32 random bytes */
#define OIDC_PENDING_TTL_MS (10 * 60 * 1000)

struct oidc;

/* The provider and this client's registration at it. */
struct oidc_config {
  const char *issuer; /* "": no provider */
  const char *client_id;
  const char *client_secret;
  const char *name;              /* on the button; "": the issuer's host */
  const char *scopes;            /* space-separated */
  uint64_t jwks_min_interval_ms; /* an unknown kid refetches the JWKS at most this often */
};

/* What a finished sign-in yields. error is NULL on success, else a failure
 * code of docs/protocol.md ("bad_state", "bad_nonce", ...) with message
 * for a person and the HTTP status to answer with. */
struct oidc_result {
  const char *error;
  const char *message;
  int status;
  json_t *claims;       /* the verified ID token's claims (borrowed) */
  const char *id_token; /* the raw token (borrowed) */
  const char *issuer;
  const char *next; /* where the user wanted to go */
};

typedef void (*oidc_done_cb)(void *arg, const struct oidc_result *r);

/* Creates the client and starts discovery when cfg names an issuer;
 * returns 0 with *out NULL when none is configured. The strings are
 * copied. */
int oidc_new(uv_loop_t *loop, const struct oidc_config *cfg, struct oidc **out);
/* Every oidc_finish() still waiting for the provider completes now, from
 * inside this call, with "provider_unavailable"; the memory goes when the
 * retry timer has closed (run the loop). */
void oidc_free(struct oidc *o);

/* The button's name; whether sign-in can start now, and if not why. */
const char *oidc_name(const struct oidc *o);
int oidc_available(const struct oidc *o, const char **message);

/* Starts a sign-in: creates state, nonce and PKCE verifier, remembers them
 * with next and redirect_uri, and returns the authorization URL (caller
 * frees) and the state (for the browser-binding cookie). -EAGAIN when the
 * provider is unavailable, -ENOMEM. */
int oidc_begin(struct oidc *o, const char *redirect_uri, const char *next, char **url,
               char state[OIDC_STATE_LEN + 1]);

/* Finishes a sign-in from the callback's state and code (or the provider's
 * error) and the state cookie the browser sent. cb runs once, possibly
 * before this returns. */
void oidc_finish(struct oidc *o, const char *state, const char *cookie_state, const char *code,
                 const char *provider_error, oidc_done_cb cb, void *arg);

/* The RP-initiated logout URL for an ID token, or NULL when the provider
 * publishes no end_session_endpoint (caller frees). */
char *oidc_logout_url(const struct oidc *o, const char *id_token, const char *post_logout_uri);

#endif
