#include "app/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults(struct config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
  cfg->listen_port = 8080;
  snprintf(cfg->data_dir, sizeof(cfg->data_dir), "data");
  snprintf(cfg->web_dir, sizeof(cfg->web_dir), "web");
  cfg->signup = 1;
  cfg->ws_ping_ms = 2000;
  cfg->ws_timeout_ms = 6000;
  cfg->ws_max_message = 64 * 1024;
  cfg->chat_burst = 5;
  cfg->chat_per_sec = 1.0;
  cfg->max_viewers = 10000;
  cfg->session_ttl_ms = 30LL * 24 * 3600 * 1000;
  snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
  snprintf(cfg->oidc_scopes, sizeof(cfg->oidc_scopes), "openid profile email");
  cfg->oidc_jwks_min_interval_ms = 60000;
  cfg->media_consent_ms = 15000;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
    return -EINVAL;
  *out = v;
  return 0;
}

static int copy_str(char *dst, size_t size, const char *v) {
  if (strlen(v) >= size)
    return -EINVAL;
  memcpy(dst, v, strlen(v) + 1);
  return 0;
}

static int parse_bool(const char *v, int *out) {
  if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
    *out = 1;
  else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
    *out = 0;
  else
    return -EINVAL;
  return 0;
}

/* "host:port", "[v6]:port" or ":port". */
static int parse_listen(struct config *cfg, const char *v) {
  const char *colon = strrchr(v, ':');
  if (colon == NULL)
    return -EINVAL;
  uint64_t port;
  if (parse_u64(colon + 1, 1, 65535, &port) < 0)
    return -EINVAL;
  const char *h = v;
  size_t hl = (size_t)(colon - v);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
    h++;
    hl -= 2;
  }
  if (hl >= sizeof(cfg->listen_host))
    return -EINVAL;
  if (hl == 0) {
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "0.0.0.0");
  } else {
    memcpy(cfg->listen_host, h, hl);
    cfg->listen_host[hl] = 0;
  }
  cfg->listen_port = (int)port;
  return 0;
}

int config_set(struct config *cfg, const char *key, const char *v) {
  uint64_t n;
  if (!strcmp(key, "listen"))
    return parse_listen(cfg, v);
  if (!strcmp(key, "port")) {
    if (parse_u64(v, 1, 65535, &n) < 0)
      return -EINVAL;
    cfg->listen_port = (int)n;
    return 0;
  }
  if (!strcmp(key, "data"))
    return copy_str(cfg->data_dir, sizeof(cfg->data_dir), v);
  if (!strcmp(key, "web"))
    return copy_str(cfg->web_dir, sizeof(cfg->web_dir), v);
  if (!strcmp(key, "base-url"))
    return copy_str(cfg->base_url, sizeof(cfg->base_url), v);
  if (!strcmp(key, "signup"))
    return parse_bool(v, &cfg->signup);
  if (!strcmp(key, "log-level"))
    return copy_str(cfg->log_level, sizeof(cfg->log_level), v);
  if (!strcmp(key, "ws-ping-ms") || !strcmp(key, "ws-timeout-ms")) {
    if (parse_u64(v, 100, 3600 * 1000, &n) < 0)
      return -EINVAL;
    *(key[3] == 'p' ? &cfg->ws_ping_ms : &cfg->ws_timeout_ms) = n;
    return 0;
  }
  if (!strcmp(key, "chat-burst")) {
    if (parse_u64(v, 1, 1000, &n) < 0)
      return -EINVAL;
    cfg->chat_burst = (unsigned)n;
    return 0;
  }
  if (!strcmp(key, "chat-per-sec")) {
    if (parse_u64(v, 1, 1000, &n) < 0)
      return -EINVAL;
    cfg->chat_per_sec = (double)n;
    return 0;
  }
  if (!strcmp(key, "oidc-issuer"))
    return copy_str(cfg->oidc_issuer, sizeof(cfg->oidc_issuer), v);
  if (!strcmp(key, "oidc-client-id"))
    return copy_str(cfg->oidc_client_id, sizeof(cfg->oidc_client_id), v);
  if (!strcmp(key, "oidc-client-secret"))
    return copy_str(cfg->oidc_client_secret, sizeof(cfg->oidc_client_secret), v);
  if (!strcmp(key, "oidc-name"))
    return copy_str(cfg->oidc_name, sizeof(cfg->oidc_name), v);
  if (!strcmp(key, "oidc-scopes"))
    return copy_str(cfg->oidc_scopes, sizeof(cfg->oidc_scopes), v);
  if (!strcmp(key, "oidc-jwks-min-interval-ms"))
    return parse_u64(v, 0, 24 * 3600 * 1000, &cfg->oidc_jwks_min_interval_ms);
  if (!strcmp(key, "media-port")) {
    if (parse_u64(v, 0, 65535, &n) < 0)
      return -EINVAL;
    cfg->media_port = (int)n;
    return 0;
  }
  if (!strcmp(key, "media-bind"))
    return copy_str(cfg->media_bind, sizeof(cfg->media_bind), v);
  if (!strcmp(key, "media-announce"))
    return copy_str(cfg->media_announce, sizeof(cfg->media_announce), v);
  if (!strcmp(key, "media-consent-ms"))
    return parse_u64(v, 1000, 600000, &cfg->media_consent_ms);
  if (!strcmp(key, "max-viewers")) {
    if (parse_u64(v, 1, 1000000, &n) < 0)
      return -EINVAL;
    cfg->max_viewers = n;
    return 0;
  }
  return -ENOENT;
}

static int config_file(struct config *cfg, const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "onair: cannot open config file %s\n", path);
    return -EINVAL;
  }
  char line[2048];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof(line), f)) {
    lineno++;
    char *p = line;
    p[strcspn(p, "\r\n")] = 0;
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p == 0 || *p == '#')
      continue;
    char *eq = strchr(p, '=');
    if (eq == NULL) {
      rc = -EINVAL;
      break;
    }
    char *kend = eq;
    while (kend > p && (kend[-1] == ' ' || kend[-1] == '\t'))
      kend--;
    *kend = 0;
    char *v = eq + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    if (config_set(cfg, p, v) < 0) {
      rc = -EINVAL;
      break;
    }
  }
  fclose(f);
  if (rc < 0)
    fprintf(stderr, "onair: %s:%d: bad setting\n", path, lineno);
  return rc;
}

/* Environment names: ONAIR_<KEY> with '-' as '_', plus the tutorial's
 * APP_BASE_PORT and APP_BASE_URL. */
static int config_env(struct config *cfg) {
  static const char *const keys[] = {"listen",
                                     "data",
                                     "web",
                                     "base-url",
                                     "signup",
                                     "log-level",
                                     "ws-ping-ms",
                                     "ws-timeout-ms",
                                     "chat-burst",
                                     "chat-per-sec",
                                     "max-viewers",
                                     "oidc-issuer",
                                     "oidc-client-id",
                                     "oidc-client-secret",
                                     "oidc-name",
                                     "oidc-scopes",
                                     "oidc-jwks-min-interval-ms",
                                     "media-port",
                                     "media-bind",
                                     "media-announce",
                                     "media-consent-ms"};
  const char *v = getenv("APP_BASE_PORT");
  if (v && config_set(cfg, "port", v) < 0)
    goto bad;
  v = getenv("APP_BASE_URL");
  if (v && config_set(cfg, "base-url", v) < 0)
    goto bad;
  /* The tutorial's Okta settings: its authorization server is the default
   * custom one under the org URL. */
  v = getenv("OKTA_BASE_URL");
  if (v && *v) {
    size_t n = strlen(v);
    while (n && v[n - 1] == '/')
      n--;
    if (n + sizeof("/oauth2/default") > sizeof(cfg->oidc_issuer))
      goto bad;
    snprintf(cfg->oidc_issuer, sizeof(cfg->oidc_issuer), "%.*s/oauth2/default", (int)n, v);
    snprintf(cfg->oidc_name, sizeof(cfg->oidc_name), "Okta");
  }
  v = getenv("OKTA_CLIENT_ID");
  if (v && config_set(cfg, "oidc-client-id", v) < 0)
    goto bad;
  v = getenv("OKTA_CLIENT_SECRET");
  if (v && config_set(cfg, "oidc-client-secret", v) < 0)
    goto bad;
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    char name[64] = "ONAIR_";
    size_t n = 6;
    for (const char *k = keys[i]; *k && n < sizeof(name) - 1; k++)
      name[n++] = *k == '-' ? '_' : (char)(*k - 'a' + 'A');
    name[n] = 0;
    v = getenv(name);
    if (v && config_set(cfg, keys[i], v) < 0) {
      fprintf(stderr, "onair: bad value in %s\n", name);
      return -EINVAL;
    }
  }
  return 0;
bad:
  fprintf(stderr, "onair: bad value in APP_BASE_PORT, APP_BASE_URL or an OKTA_ variable\n");
  return -EINVAL;
}

static void config_usage(void) {
  fputs("usage: onair [--KEY VALUE]...\n"
        "  --config FILE        key = value lines (same keys as the flags)\n"
        "  --listen HOST:PORT   where to serve HTTP (default 127.0.0.1:8080)\n"
        "  --port PORT          the port alone\n"
        "  --data DIR           SQLite database and state (default ./data)\n"
        "  --web DIR            pages and assets (default ./web)\n"
        "  --base-url URL       public URL when behind a proxy (https://...)\n"
        "  --signup BOOL        allow local sign-up (default true)\n"
        "  --log-level LEVEL    debug, info, warn, error\n"
        "  --ws-ping-ms MS, --ws-timeout-ms MS, --chat-burst N, --chat-per-sec N,\n"
        "  --max-viewers N\n"
        "  --oidc-issuer URL, --oidc-client-id ID, --oidc-client-secret S,\n"
        "  --oidc-name NAME, --oidc-scopes LIST, --oidc-jwks-min-interval-ms MS\n"
        "  --media-port PORT    UDP port for all media (default: the HTTP port)\n"
        "  --media-bind HOST    address the media socket binds (default: the HTTP host)\n"
        "  --media-announce IP  address put in SDP answers, for servers behind NAT\n"
        "  --media-consent-ms MS  drop a media peer silent this long (default 15000)\n"
        "Every key also reads ONAIR_<KEY> from the environment (ONAIR_DATA, ...);\n"
        "the tutorial's APP_BASE_PORT, APP_BASE_URL and OKTA_BASE_URL, OKTA_CLIENT_ID,\n"
        "OKTA_CLIENT_SECRET work too.\n",
        stdout);
}

int config_load(struct config *cfg, int argc, char **argv) {
  const char *file = getenv("ONAIR_CONFIG");
  for (int i = 1; i + 1 < argc; i++) {
    if (!strcmp(argv[i], "--config"))
      file = argv[i + 1];
  }
  if (file && config_file(cfg, file) < 0)
    return -EINVAL;
  if (config_env(cfg) < 0)
    return -EINVAL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      config_usage();
      return 1;
    }
    if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
      fprintf(stderr, "onair: unexpected argument %s (try --help)\n", a);
      return -EINVAL;
    }
    const char *v = argv[++i];
    if (!strcmp(a, "--config"))
      continue;
    int rc = config_set(cfg, a + 2, v);
    if (rc < 0) {
      fprintf(stderr, "onair: %s %s: %s\n", a, v, rc == -ENOENT ? "unknown flag" : "bad value");
      return -EINVAL;
    }
  }
  return 0;
}
