/* onair's settings, from (lowest to highest precedence) built-in defaults,
 * a config file, the environment and command-line flags. One table,
 * config_keys[], describes every key: the flags, the file's keys, the
 * environment names, the defaults, --help and the key table of
 * docs/configuration.md all come from it. */
#ifndef ONAIR_CONFIG_H
#define ONAIR_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A listening address; port 0: none. */
struct config_addr {
  char host[64];
  int port;
};

struct config {
  char listen_host[64];
  int listen_port;
  char data_dir[1024];
  char web_dir[1024];
  char base_url[256]; /* public URL, e.g. https://live.example.org; "" = from Host */
  int signup;         /* local sign-up allowed */
  int public_watch;   /* signed-out visitors may watch (not chat) */
  uint64_t ws_ping_ms;
  uint64_t ws_timeout_ms;
  uint64_t reconnect_grace_ms; /* a dropped broadcaster's room waits this long; 0: ends */
  size_t ws_max_message;       /* bytes */
  unsigned chat_burst;         /* messages */
  double chat_per_sec;         /* messages per second after the burst */
  size_t max_viewers;          /* per room */
  int64_t session_ttl_ms;
  char log_level[16];
  char log_format[8]; /* "text" or "json" */
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
  char media_announce[512];  /* addresses put in SDP answers; "": the bind address */
  uint64_t media_consent_ms; /* a peer with no STUN for this long is dropped */
  int media_gso;             /* 1: UDP GSO where the kernel has it */
  int media_frame_hold_ms;   /* a worker waits for a frame's last packet this long */
  int media_workers;         /* sending threads; 0: one per core */
  /* HTTPS: with a certificate, listen serves HTTPS and http_listen (if set)
   * redirects plain HTTP to it. */
  char tls_cert[1024]; /* PEM chain, leaf first; "": plain HTTP */
  char tls_key[1024];  /* PEM private key */
  struct config_addr http_listen;
  /* Automatic certificates (ACME, RFC 8555): with tls_domain, onair obtains
   * and renews the certificate of listen itself (docs/operations.md). */
  char tls_domain[256];      /* names, separated by commas or spaces; "": none */
  char tls_email[256];       /* the account's contact; "": none */
  char acme_directory[512];  /* the CA's directory URL */
  char acme_ca_file[1024];   /* PEM CAs trusted for the CA's own HTTPS; "": the system's */
  uint64_t acme_renew_days;  /* renew when fewer days of validity remain */
  char trusted_proxies[512]; /* addresses and networks whose X-Forwarded-* count */
  /* TURN for browsers whose UDP to onair is blocked. */
  char turn_url[1024];     /* turn:, turns: (and stun:) URLs; "": none */
  char turn_secret[256];   /* the TURN server's static-auth-secret */
  uint64_t turn_ttl_s;     /* how long handed-out credentials stay valid */
  char metrics_allow[512]; /* addresses and networks that may read /metrics */
  /* Limits against abuse (docs/operations.md, "Limits"). */
  uint64_t http_request_ms;  /* a request's head must come within this */
  size_t max_conns;          /* TCP connections in all; 0: from the descriptor limit */
  unsigned max_conns_per_ip; /* TCP connections per client address; 0: no cap */
  unsigned max_ws_per_ip;    /* WebSockets per client address; 0: no cap */
  unsigned signup_per_ip;    /* accounts an address makes at once; 0: no limit */
  double signup_per_sec;     /* new accounts per second in all; 0: no limit */
  /* Cluster (docs/cluster.md): without postgres and redis, one node on its
   * embedded SQLite file with events in process. */
  char postgres[1024];      /* libpq connection string or URL; "": SQLite in data_dir */
  char redis[512];          /* redis://host:port or unix:/path; "": events in process */
  char cluster_secret[256]; /* shared by the nodes: node-to-node links and requests */
  char node_name[64];       /* unique in the cluster; "": <hostname>:<port> */
  char node_url[256];       /* where viewers reach this node; "": base_url, else from listen */
  char node_address[64];    /* the address other nodes reach this node's media at */
  unsigned node_redirect;   /* send new viewers to a node with this many fewer; 0: never */
  unsigned node_fanout; /* links a node serves per room before edges pull from edges; 0: no cap */
};

/* What a key's text becomes, and the field type it is stored in. */
enum config_type {
  CONFIG_STRING,   /* char[size]; text of size bytes or more is refused */
  CONFIG_BOOL,     /* int: 1 for 1/true/yes/on, 0 for 0/false/no/off */
  CONFIG_INT,      /* int, a whole number in [min, max] */
  CONFIG_UNSIGNED, /* unsigned, a whole number in [min, max] */
  CONFIG_SIZE,     /* size_t, a whole number in [min, max] */
  CONFIG_U64,      /* uint64_t, a whole number in [min, max] */
  CONFIG_DOUBLE,   /* double, but a whole number in [min, max] */
  CONFIG_LISTEN,   /* "host:port", "[v6]:port", ":port" (0.0.0.0): listen_host and _port */
  CONFIG_ADDR,     /* struct config_addr: as CONFIG_LISTEN, or "" for none */
  CONFIG_FILE,     /* --config FILE: read by config_load; config_set does not take it */
};

/* config_key.flags */
#define CONFIG_NO_ONAIR_ENV 1u /* no ONAIR_<KEY> variable (port: APP_BASE_PORT only) */
#define CONFIG_SECRET 2u       /* never printed: config_log() says only whether it is set */

/* One row of config_keys[]. Every text is one line without '|'; help is
 * plain text, doc and doc_default are Markdown. */
struct config_key {
  const char *key; /* the flag without "--", the file's key; NULL ends the table */
  enum config_type type;
  unsigned flags;              /* CONFIG_NO_ONAIR_ENV */
  size_t offset;               /* of the field in struct config */
  size_t size;                 /* of that field, bytes (a string's buffer) */
  uint64_t min, max;           /* the numeric types' range, both included */
  const char *def;             /* the default, as text config_set takes; NULL: 0 or "" */
  const char *env_alias;       /* the tutorial's variable, read before every ONAIR_ one; or NULL */
  const char *arg;             /* the value's name in --help: "DIR", "MS" */
  const char *help;            /* --help's line, and the docs' meaning when doc is NULL */
  const char *doc;             /* the docs' meaning when it says more than help, or NULL */
  const char *doc_default;     /* the docs' default where def alone would mislead, or NULL */
  int (*check)(const char *v); /* a string's own rule: 0, or -EINVAL (config_set refuses) */
};

/* Every key, in the order --help and the docs list them. */
extern const struct config_key config_keys[];

void config_defaults(struct config *cfg);
/* Applies argv (after defaults, file and environment, which it reads
 * itself: --config FILE or ONAIR_CONFIG names the file). Returns 0, 1 when
 * --help (or --help-markdown, the docs' key table) was printed, or -EINVAL
 * with a message on stderr. */
int config_load(struct config *cfg, int argc, char **argv);
/* Sets one key ("listen", "data", ...) from text. -EINVAL if bad, -ENOENT
 * if there is no such key. A refused value leaves cfg as it was. */
int config_set(struct config *cfg, const char *key, const char *value);
/* --help's text. */
void config_write_help(FILE *out);
/* The key table of docs/configuration.md, in Markdown. */
void config_write_markdown(FILE *out);
/* Logs the effective settings as one event (secrets only as "(set)"). */
void config_log(const struct config *cfg);

#endif
