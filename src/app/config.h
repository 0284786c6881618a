/* onair's settings, from (lowest to highest precedence) built-in defaults,
 * a config file, the environment and command-line flags. See
 * docs/configuration.md for every key. */
#ifndef ONAIR_CONFIG_H
#define ONAIR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct config {
  char listen_host[64];
  int listen_port;
  char data_dir[1024];
  char web_dir[1024];
  char base_url[256]; /* public URL, e.g. https://live.example.org; "" = from Host */
  int signup;         /* local sign-up allowed */
  uint64_t ws_ping_ms;
  uint64_t ws_timeout_ms;
  size_t ws_max_message; /* bytes */
  unsigned chat_burst;   /* messages */
  double chat_per_sec;   /* messages per second after the burst */
  size_t max_viewers;    /* per room */
  int64_t session_ttl_ms;
  char log_level[16];
  /* OpenID Connect; the provider is configured when oidc_issuer is set. */
  char oidc_issuer[512];
  char oidc_client_id[256];
  char oidc_client_secret[256];
  char oidc_name[64];
  char oidc_scopes[256];
  uint64_t oidc_jwks_min_interval_ms;
  /* Media plane: one UDP port for every peer. */
  int media_port;            /* 0: the HTTP port's number */
  char media_bind[64];       /* "": the HTTP listen host */
  char media_announce[64];   /* address put in SDP answers; "": the bind address */
  uint64_t media_consent_ms; /* a peer with no STUN for this long is dropped */
};

void config_defaults(struct config *cfg);
/* Applies argv (after defaults, file and environment, which it reads
 * itself: --config FILE or ONAIR_CONFIG names the file). Returns 0, 1 when
 * --help was printed, or -EINVAL with a message on stderr. */
int config_load(struct config *cfg, int argc, char **argv);
/* Sets one key ("listen", "data", ...) from text. -EINVAL if bad. */
int config_set(struct config *cfg, const char *key, const char *value);

#endif
