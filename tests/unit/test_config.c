/* Tests for src/app/config.c: defaults, flags (listen forms, ports, unknown
 * flags, --help), the environment (ONAIR_*, APP_BASE_PORT, APP_BASE_URL), a
 * config file with comments and bad lines, and the precedence
 * flags > environment > file > defaults. key_cases[] says, independently of
 * config_keys[], what every key takes; each key is tried with a good value,
 * each bound, just outside them and junk, from a flag, the file and the
 * environment, and must appear in --help and --help-markdown. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/config.h"

static const char *const env_names[] = {
    "ONAIR_CONFIG",
    "APP_BASE_PORT",
    "APP_BASE_URL",
    "ONAIR_LISTEN",
    "ONAIR_DATA",
    "ONAIR_WEB",
    "ONAIR_BASE_URL",
    "ONAIR_SIGNUP",
    "ONAIR_PUBLIC_WATCH",
    "ONAIR_LOG_LEVEL",
    "ONAIR_WS_PING_MS",
    "ONAIR_WS_TIMEOUT_MS",
    "ONAIR_RECONNECT_GRACE_MS",
    "ONAIR_CHAT_BURST",
    "ONAIR_CHAT_PER_SEC",
    "ONAIR_MAX_VIEWERS",
    "ONAIR_PORT",
    "ONAIR_OIDC_ISSUER",
    "ONAIR_OIDC_CLIENT_ID",
    "ONAIR_OIDC_CLIENT_SECRET",
    "ONAIR_OIDC_NAME",
    "ONAIR_OIDC_SCOPES",
    "ONAIR_OIDC_JWKS_MIN_INTERVAL_MS",
    "OKTA_BASE_URL",
    "OKTA_CLIENT_ID",
    "OKTA_CLIENT_SECRET",
    "ONAIR_MEDIA_PORT",
    "ONAIR_MEDIA_BIND",
    "ONAIR_MEDIA_ANNOUNCE",
    "ONAIR_MEDIA_CONSENT_MS",
    "ONAIR_MEDIA_WORKERS",
    "ONAIR_MEDIA_GSO",
    "ONAIR_MEDIA_FRAME_HOLD_MS",
    "ONAIR_TLS_CERT",
    "ONAIR_TLS_KEY",
    "ONAIR_HTTP_LISTEN",
    "ONAIR_TLS_DOMAIN", /* automatic certificates */
    "ONAIR_TLS_EMAIL",
    "ONAIR_ACME_DIRECTORY",
    "ONAIR_ACME_CA_FILE",
    "ONAIR_ACME_RENEW_DAYS",
    "ONAIR_TRUSTED_PROXIES",
    "ONAIR_TURN_URL",
    "ONAIR_TURN_SECRET",
    "ONAIR_TURN_TTL_S",
    "ONAIR_METRICS_ALLOW",
    "ONAIR_LOG_FORMAT",
    "ONAIR_HTTP_REQUEST_TIMEOUT_MS",
    "ONAIR_MAX_CONNS",
    "ONAIR_MAX_CONNS_PER_IP",
    "ONAIR_MAX_WS_PER_IP",
    "ONAIR_SIGNUP_PER_IP",
    "ONAIR_SIGNUP_PER_SEC",
};

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

/* Every key as the user meets it: what it sets, its range, its variables. */
static const struct key_case {
  const char *key;
  enum config_type type;
  size_t offset, size; /* the field it sets (listen: listen_host) */
  uint64_t min, max;   /* numbers, and listen's port */
  const char *env;     /* its ONAIR_ variable, or NULL */
  const char *alias;   /* the tutorial's variable, or NULL */
  const char *good;    /* a value other than the default */
} key_cases[] = {
    {"config", CONFIG_FILE, 0, 0, 0, 0, "ONAIR_CONFIG", NULL, NULL},
    {"listen", CONFIG_LISTEN, FIELD(listen_host), 1, 65535, "ONAIR_LISTEN", NULL, "[::1]:7777"},
    {"port", CONFIG_INT, FIELD(listen_port), 1, 65535, NULL, "APP_BASE_PORT", "3000"},
    {"data", CONFIG_STRING, FIELD(data_dir), 0, 0, "ONAIR_DATA", NULL, "/srv/onair"},
    {"web", CONFIG_STRING, FIELD(web_dir), 0, 0, "ONAIR_WEB", NULL, "/usr/share/onair"},
    {"base-url", CONFIG_STRING, FIELD(base_url), 0, 0, "ONAIR_BASE_URL", "APP_BASE_URL",
     "https://live.example.org"},
    {"signup", CONFIG_BOOL, FIELD(signup), 0, 1, "ONAIR_SIGNUP", NULL, "off"},
    {"public-watch", CONFIG_BOOL, FIELD(public_watch), 0, 1, "ONAIR_PUBLIC_WATCH", NULL, "on"},
    {"log-level", CONFIG_STRING, FIELD(log_level), 0, 0, "ONAIR_LOG_LEVEL", NULL, "debug"},
    {"log-format", CONFIG_STRING, FIELD(log_format), 0, 0, "ONAIR_LOG_FORMAT", NULL, "json"},
    {"ws-ping-ms", CONFIG_U64, FIELD(ws_ping_ms), 100, 3600000, "ONAIR_WS_PING_MS", NULL, "500"},
    {"ws-timeout-ms", CONFIG_U64, FIELD(ws_timeout_ms), 100, 3600000, "ONAIR_WS_TIMEOUT_MS", NULL,
     "9000"},
    {"reconnect-grace-ms", CONFIG_U64, FIELD(reconnect_grace_ms), 0, 3600000,
     "ONAIR_RECONNECT_GRACE_MS", NULL, "45000"},
    {"chat-burst", CONFIG_UNSIGNED, FIELD(chat_burst), 1, 1000, "ONAIR_CHAT_BURST", NULL, "10"},
    {"chat-per-sec", CONFIG_DOUBLE, FIELD(chat_per_sec), 1, 1000, "ONAIR_CHAT_PER_SEC", NULL, "3"},
    {"max-viewers", CONFIG_SIZE, FIELD(max_viewers), 1, 1000000, "ONAIR_MAX_VIEWERS", NULL, "42"},
    {"media-port", CONFIG_INT, FIELD(media_port), 0, 65535, "ONAIR_MEDIA_PORT", NULL, "3478"},
    {"media-bind", CONFIG_STRING, FIELD(media_bind), 0, 0, "ONAIR_MEDIA_BIND", NULL, "10.0.0.2"},
    {"media-announce", CONFIG_STRING, FIELD(media_announce), 0, 0, "ONAIR_MEDIA_ANNOUNCE", NULL,
     "203.0.113.7"},
    {"media-consent-ms", CONFIG_U64, FIELD(media_consent_ms), 1000, 600000,
     "ONAIR_MEDIA_CONSENT_MS", NULL, "30000"},
    {"media-workers", CONFIG_INT, FIELD(media_workers), 0, 63, "ONAIR_MEDIA_WORKERS", NULL, "3"},
    {"media-gso", CONFIG_BOOL, FIELD(media_gso), 0, 1, "ONAIR_MEDIA_GSO", NULL, "off"},
    {"media-frame-hold-ms", CONFIG_INT, FIELD(media_frame_hold_ms), 0, 100,
     "ONAIR_MEDIA_FRAME_HOLD_MS", NULL, "20"},
    {"tls-cert", CONFIG_STRING, FIELD(tls_cert), 0, 0, "ONAIR_TLS_CERT", NULL,
     "/etc/onair/fullchain.pem"},
    {"tls-key", CONFIG_STRING, FIELD(tls_key), 0, 0, "ONAIR_TLS_KEY", NULL, "/etc/onair/key.pem"},
    {"http-listen", CONFIG_ADDR, FIELD(http_listen), 1, 65535, "ONAIR_HTTP_LISTEN", NULL, ":80"},
    {"tls-domain", CONFIG_STRING, FIELD(tls_domain), 0, 0, "ONAIR_TLS_DOMAIN", NULL,
     "live.example.org, www.example.org"},
    {"tls-email", CONFIG_STRING, FIELD(tls_email), 0, 0, "ONAIR_TLS_EMAIL", NULL,
     "ops@example.org"},
    {"acme-directory", CONFIG_STRING, FIELD(acme_directory), 0, 0, "ONAIR_ACME_DIRECTORY", NULL,
     "https://acme-staging-v02.api.letsencrypt.org/directory"},
    {"acme-ca-file", CONFIG_STRING, FIELD(acme_ca_file), 0, 0, "ONAIR_ACME_CA_FILE", NULL,
     "/etc/onair/acme-ca.pem"},
    {"acme-renew-days", CONFIG_U64, FIELD(acme_renew_days), 1, 365, "ONAIR_ACME_RENEW_DAYS", NULL,
     "20"},
    {"trusted-proxies", CONFIG_STRING, FIELD(trusted_proxies), 0, 0, "ONAIR_TRUSTED_PROXIES", NULL,
     "127.0.0.1, 10.0.0.0/8"},
    {"turn-url", CONFIG_STRING, FIELD(turn_url), 0, 0, "ONAIR_TURN_URL", NULL,
     "turn:turn.example.org:3478?transport=udp"},
    {"turn-secret", CONFIG_STRING, FIELD(turn_secret), 0, 0, "ONAIR_TURN_SECRET", NULL, "s3cret"},
    {"turn-ttl-s", CONFIG_U64, FIELD(turn_ttl_s), 60, 604800, "ONAIR_TURN_TTL_S", NULL, "600"},
    {"metrics-allow", CONFIG_STRING, FIELD(metrics_allow), 0, 0, "ONAIR_METRICS_ALLOW", NULL,
     "10.0.0.0/8"},
    {"http-request-timeout-ms", CONFIG_U64, FIELD(http_request_ms), 1000, 600000,
     "ONAIR_HTTP_REQUEST_TIMEOUT_MS", NULL, "5000"},
    {"max-conns", CONFIG_SIZE, FIELD(max_conns), 0, 10000000, "ONAIR_MAX_CONNS", NULL, "1000"},
    {"max-conns-per-ip", CONFIG_UNSIGNED, FIELD(max_conns_per_ip), 0, 1000000,
     "ONAIR_MAX_CONNS_PER_IP", NULL, "20"},
    {"max-ws-per-ip", CONFIG_UNSIGNED, FIELD(max_ws_per_ip), 0, 1000000, "ONAIR_MAX_WS_PER_IP",
     NULL, "8"},
    {"signup-per-ip", CONFIG_UNSIGNED, FIELD(signup_per_ip), 0, 1000000, "ONAIR_SIGNUP_PER_IP",
     NULL, "0"},
    {"signup-per-sec", CONFIG_DOUBLE, FIELD(signup_per_sec), 0, 1000, "ONAIR_SIGNUP_PER_SEC", NULL,
     "10"},
    {"postgres", CONFIG_STRING, FIELD(postgres), 0, 0, "ONAIR_POSTGRES", NULL,
     "postgresql://onair@db.example/onair"},
    {"redis", CONFIG_STRING, FIELD(redis), 0, 0, "ONAIR_REDIS", NULL, "redis://10.0.0.5:6379"},
    {"cluster-secret", CONFIG_STRING, FIELD(cluster_secret), 0, 0, "ONAIR_CLUSTER_SECRET", NULL,
     "0123456789abcdef0123"},
    {"node-name", CONFIG_STRING, FIELD(node_name), 0, 0, "ONAIR_NODE_NAME", NULL, "live-2"},
    {"node-url", CONFIG_STRING, FIELD(node_url), 0, 0, "ONAIR_NODE_URL", NULL,
     "https://live2.example.org"},
    {"node-address", CONFIG_STRING, FIELD(node_address), 0, 0, "ONAIR_NODE_ADDRESS", NULL,
     "10.0.0.2"},
    {"node-redirect-margin", CONFIG_UNSIGNED, FIELD(node_redirect), 0, 1000000,
     "ONAIR_NODE_REDIRECT_MARGIN", NULL, "50"},
    {"node-relay-fanout", CONFIG_UNSIGNED, FIELD(node_fanout), 0, 1000, "ONAIR_NODE_RELAY_FANOUT",
     NULL, "8"},
    {"oidc-issuer", CONFIG_STRING, FIELD(oidc_issuer), 0, 0, "ONAIR_OIDC_ISSUER", NULL,
     "https://idp.example"},
    {"oidc-client-id", CONFIG_STRING, FIELD(oidc_client_id), 0, 0, "ONAIR_OIDC_CLIENT_ID",
     "OKTA_CLIENT_ID", "cid"},
    {"oidc-client-secret", CONFIG_STRING, FIELD(oidc_client_secret), 0, 0,
     "ONAIR_OIDC_CLIENT_SECRET", "OKTA_CLIENT_SECRET", "s3cret"},
    {"oidc-name", CONFIG_STRING, FIELD(oidc_name), 0, 0, "ONAIR_OIDC_NAME", NULL, "Example"},
    {"oidc-scopes", CONFIG_STRING, FIELD(oidc_scopes), 0, 0, "ONAIR_OIDC_SCOPES", NULL, "openid"},
    {"oidc-jwks-min-interval-ms", CONFIG_U64, FIELD(oidc_jwks_min_interval_ms), 0, 86400000,
     "ONAIR_OIDC_JWKS_MIN_INTERVAL_MS", NULL, "0"},
};
#define N_KEY_CASES (sizeof(key_cases) / sizeof(key_cases[0]))

static char tmpdir[64];
static char file_path[128];

static void clear_env(void) {
  for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
    unsetenv(env_names[i]);
  for (size_t i = 0; i < N_KEY_CASES; i++) {
    if (key_cases[i].env)
      unsetenv(key_cases[i].env);
    if (key_cases[i].alias)
      unsetenv(key_cases[i].alias);
  }
}

static int group_setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/onair-test-config-XXXXXX");
  if (mkdtemp(tmpdir) == NULL)
    return -1;
  snprintf(file_path, sizeof(file_path), "%s/onair.conf", tmpdir);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  unlink(file_path);
  rmdir(tmpdir);
  return 0;
}

static int setup(void **state) {
  (void)state;
  clear_env();
  unlink(file_path);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  clear_env();
  return 0;
}

static void write_file(const char *text) {
  FILE *fp = fopen(file_path, "w");
  assert_non_null(fp);
  assert_int_equal(fputs(text, fp) >= 0, 1);
  assert_int_equal(fclose(fp), 0);
}

/* Runs config_load on defaults with argv = {"onair", args..., NULL}. */
static int load(struct config *cfg, const char *const *args) {
  char *argv[32];
  int argc = 0;
  argv[argc++] = (char *)"onair";
  for (; *args; args++) {
    assert_true(argc < 31);
    argv[argc++] = (char *)*args;
  }
  argv[argc] = NULL;
  config_defaults(cfg);
  return config_load(cfg, argc, argv);
}

static void test_defaults(void **state) {
  (void)state;
  struct config cfg;
  memset(&cfg, 0x5a, sizeof(cfg));
  config_defaults(&cfg);
  assert_string_equal(cfg.listen_host, "0.0.0.0"); /* reachable from other machines */
  assert_int_equal(cfg.listen_port, 8080);
  assert_string_equal(cfg.data_dir, "data");
  assert_string_equal(cfg.web_dir, ""); /* the built-in pages */
  assert_string_equal(cfg.base_url, "");
  assert_int_equal(cfg.signup, 1);
  assert_int_equal(cfg.ws_ping_ms, 2000);
  assert_int_equal(cfg.ws_timeout_ms, 6000);
  assert_int_equal(cfg.ws_max_message, 64 * 1024);
  assert_int_equal(cfg.chat_burst, 5);
  assert_true(cfg.chat_per_sec == 1.0);
  assert_int_equal(cfg.max_viewers, 10000);
  assert_int_equal(cfg.session_ttl_ms, 30LL * 24 * 3600 * 1000);
  assert_string_equal(cfg.log_level, "info");
  assert_string_equal(cfg.oidc_issuer, ""); /* no provider unless configured */
  assert_string_equal(cfg.oidc_client_id, "");
  assert_string_equal(cfg.oidc_client_secret, "");
  assert_string_equal(cfg.oidc_scopes, "openid profile email");
  assert_int_equal(cfg.oidc_jwks_min_interval_ms, 60000);
  assert_string_equal(cfg.oidc_name, "");
  assert_int_equal(cfg.media_port, 0); /* the HTTP port's number */
  assert_string_equal(cfg.media_bind, "");
  assert_string_equal(cfg.media_announce, "");
  assert_int_equal(cfg.media_consent_ms, 15000);
  assert_string_equal(cfg.tls_domain, ""); /* no ACME unless asked for */
  assert_string_equal(cfg.acme_directory, "https://acme-v02.api.letsencrypt.org/directory");
  assert_int_equal(cfg.acme_renew_days, 30);
  /* No flags, no environment, no file: the defaults stand. */
  const char *none[] = {NULL};
  assert_int_equal(load(&cfg, none), 0);
  assert_string_equal(cfg.listen_host, "0.0.0.0");
  assert_int_equal(cfg.listen_port, 8080);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_listen_and_port_flags(void **state) {
  (void)state;
  const struct {
    const char *name;
    const char *const *args;
    int rc;
    const char *host; /* after, when rc == 0 */
    int port;
  } cases[] = {
      {"host:port", ARGS("--listen", "0.0.0.0:9000"), 0, "0.0.0.0", 9000},
      {"name:port", ARGS("--listen", "localhost:1"), 0, "localhost", 1},
      {"[v6]:port", ARGS("--listen", "[::1]:8443"), 0, "::1", 8443},
      {"[v6 any]:port", ARGS("--listen", "[::]:80"), 0, "::", 80},
      {":port is every interface", ARGS("--listen", ":7000"), 0, "0.0.0.0", 7000},
      {"max port", ARGS("--listen", "127.0.0.1:65535"), 0, "127.0.0.1", 65535},
      {"--port alone", ARGS("--port", "3000"), 0, "0.0.0.0", 3000},
      {"--port 1", ARGS("--port", "1"), 0, "0.0.0.0", 1},
      {"--port 65535", ARGS("--port", "65535"), 0, "0.0.0.0", 65535},
      {"later flag wins", ARGS("--port", "3000", "--listen", "10.0.0.1:4000"), 0, "10.0.0.1", 4000},
      {"port after listen", ARGS("--listen", "10.0.0.1:4000", "--port", "5000"), 0, "10.0.0.1",
       5000},
      {"port 0", ARGS("--port", "0"), -EINVAL, NULL, 0},
      {"port 65536", ARGS("--port", "65536"), -EINVAL, NULL, 0},
      {"port abc", ARGS("--port", "abc"), -EINVAL, NULL, 0},
      {"port 80abc", ARGS("--port", "80abc"), -EINVAL, NULL, 0},
      {"port -1", ARGS("--port", "-1"), -EINVAL, NULL, 0},
      {"port empty", ARGS("--port", ""), -EINVAL, NULL, 0},
      {"port huge", ARGS("--port", "99999999999999999999999"), -EINVAL, NULL, 0},
      {"listen port 0", ARGS("--listen", "127.0.0.1:0"), -EINVAL, NULL, 0},
      {"listen port 65536", ARGS("--listen", "127.0.0.1:65536"), -EINVAL, NULL, 0},
      {"listen port abc", ARGS("--listen", "127.0.0.1:abc"), -EINVAL, NULL, 0},
      {"listen without port", ARGS("--listen", "127.0.0.1"), -EINVAL, NULL, 0},
      {"listen empty port", ARGS("--listen", "127.0.0.1:"), -EINVAL, NULL, 0},
      {"listen v6 without port", ARGS("--listen", "[::1]"), -EINVAL, NULL, 0},
      {"listen host too long",
       ARGS("--listen", "a123456789012345678901234567890123456789012345678901234567890123:80"),
       -EINVAL, NULL, 0},
      {"flag without value", ARGS("--port"), -EINVAL, NULL, 0},
      {"unknown flag", ARGS("--colour", "blue"), -EINVAL, NULL, 0},
      {"not a flag", ARGS("serve"), -EINVAL, NULL, 0},
      {"single dash", ARGS("-port", "80"), -EINVAL, NULL, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct config cfg;
    int rc = load(&cfg, cases[i].args);
    if (rc != cases[i].rc) {
      print_error("flags \"%s\": rc %d, want %d\n", cases[i].name, rc, cases[i].rc);
      fail();
    }
    if (rc == 0 &&
        (strcmp(cfg.listen_host, cases[i].host) != 0 || cfg.listen_port != cases[i].port)) {
      print_error("flags \"%s\": %s:%d, want %s:%d\n", cases[i].name, cfg.listen_host,
                  cfg.listen_port, cases[i].host, cases[i].port);
      fail();
    }
  }
}

static void test_other_flags(void **state) {
  (void)state;
  struct config cfg;
  assert_int_equal(
      load(&cfg, ARGS("--data", "/var/lib/onair", "--web", "/usr/share/onair", "--base-url",
                      "https://live.example.org", "--signup", "off", "--log-level", "debug",
                      "--ws-ping-ms", "500", "--ws-timeout-ms", "1500", "--chat-burst", "10",
                      "--chat-per-sec", "3", "--max-viewers", "42")),
      0);
  assert_string_equal(cfg.data_dir, "/var/lib/onair");
  assert_string_equal(cfg.web_dir, "/usr/share/onair");
  assert_string_equal(cfg.base_url, "https://live.example.org");
  assert_int_equal(cfg.signup, 0);
  assert_string_equal(cfg.log_level, "debug");
  assert_int_equal(cfg.ws_ping_ms, 500);
  assert_int_equal(cfg.ws_timeout_ms, 1500);
  assert_int_equal(cfg.chat_burst, 10);
  assert_true(cfg.chat_per_sec == 3.0);
  assert_int_equal(cfg.max_viewers, 42);

  static const struct {
    const char *key, *value;
    int rc;
  } sets[] = {
      {"signup", "true", 0},
      {"signup", "yes", 0},
      {"signup", "1", 0},
      {"signup", "maybe", -EINVAL},
      {"signup", "", -EINVAL},
      {"ws-ping-ms", "99", -EINVAL},
      {"ws-ping-ms", "100", 0},
      {"ws-timeout-ms", "3600001", -EINVAL},
      {"chat-burst", "0", -EINVAL},
      {"chat-burst", "1001", -EINVAL},
      {"max-viewers", "0", -EINVAL},
      {"max-viewers", "1000000", 0},
      {"max-viewers", "1000001", -EINVAL},
      {"nosuchkey", "1", -ENOENT},
      {"", "1", -ENOENT},
  };
  for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
    config_defaults(&cfg);
    int rc = config_set(&cfg, sets[i].key, sets[i].value);
    if (rc != sets[i].rc) {
      print_error("set %s=%s: rc %d, want %d\n", sets[i].key, sets[i].value, rc, sets[i].rc);
      fail();
    }
  }
}

static void test_refused_values(void **state) {
  (void)state;
  struct config cfg;
  /* A value too long for its field is refused, not truncated. */
  char longv[2048];
  memset(longv, 'x', sizeof(longv) - 1);
  longv[sizeof(longv) - 1] = 0;
  config_defaults(&cfg);
  assert_int_equal(config_set(&cfg, "data", longv), -EINVAL);
  assert_string_equal(cfg.data_dir, "data");
  longv[sizeof(cfg.base_url)] = 0;
  assert_int_equal(config_set(&cfg, "base-url", longv), -EINVAL);
  longv[sizeof(cfg.base_url) - 1] = 0;
  assert_int_equal(config_set(&cfg, "base-url", longv), 0);
  /* A refused value leaves the setting as it was. */
  config_defaults(&cfg);
  assert_int_equal(config_set(&cfg, "listen", "1.2.3.4:0"), -EINVAL);
  assert_string_equal(cfg.listen_host, "0.0.0.0");
  assert_int_equal(cfg.listen_port, 8080);
}

static void test_help(void **state) {
  (void)state;
  struct config cfg;
  assert_int_equal(load(&cfg, ARGS("--help")), 1);
  assert_int_equal(load(&cfg, ARGS("-h")), 1);
  assert_int_equal(load(&cfg, ARGS("--port", "9000", "--help")), 1);
}

static void test_environment(void **state) {
  (void)state;
  struct config cfg;
  const char *none[] = {NULL};
  setenv("ONAIR_DATA", "/srv/onair", 1);
  setenv("APP_BASE_PORT", "9090", 1);
  setenv("APP_BASE_URL", "https://tv.example.net", 1);
  setenv("ONAIR_SIGNUP", "no", 1);
  setenv("ONAIR_WS_TIMEOUT_MS", "9000", 1);
  setenv("ONAIR_LISTEN", "[::1]:7777", 1);
  assert_int_equal(load(&cfg, none), 0);
  assert_string_equal(cfg.data_dir, "/srv/onair");
  assert_string_equal(cfg.base_url, "https://tv.example.net");
  assert_int_equal(cfg.signup, 0);
  assert_int_equal(cfg.ws_timeout_ms, 9000);
  assert_string_equal(cfg.listen_host, "::1");
  /* ONAIR_LISTEN is read after APP_BASE_PORT, so its port stands. */
  assert_int_equal(cfg.listen_port, 7777);
  unsetenv("ONAIR_LISTEN");
  assert_int_equal(load(&cfg, none), 0);
  assert_int_equal(cfg.listen_port, 9090);
  assert_string_equal(cfg.listen_host, "0.0.0.0");

  static const struct {
    const char *name, *value;
  } bad[] = {
      {"APP_BASE_PORT", "abc"},    {"APP_BASE_PORT", "0"},      {"APP_BASE_PORT", "65536"},
      {"ONAIR_SIGNUP", "perhaps"}, {"ONAIR_LISTEN", "nowhere"}, {"ONAIR_CHAT_BURST", "0"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    clear_env();
    setenv(bad[i].name, bad[i].value, 1);
    int rc = load(&cfg, none);
    if (rc != -EINVAL) {
      print_error("env %s=%s: rc %d\n", bad[i].name, bad[i].value, rc);
      fail();
    }
  }
}

static void test_file(void **state) {
  (void)state;
  struct config cfg;
  write_file("# onair settings\n"
             "\n"
             "   # indented comment\n"
             "listen = 0.0.0.0:8181\n"
             "data=/var/onair\n"
             "\tweb\t=\t/srv/web\n"
             "signup = false\r\n"
             "max-viewers = 5\n");
  assert_int_equal(load(&cfg, ARGS("--config", file_path)), 0);
  assert_string_equal(cfg.listen_host, "0.0.0.0");
  assert_int_equal(cfg.listen_port, 8181);
  assert_string_equal(cfg.data_dir, "/var/onair");
  assert_string_equal(cfg.web_dir, "/srv/web");
  assert_int_equal(cfg.signup, 0);
  assert_int_equal(cfg.max_viewers, 5);
  /* ONAIR_CONFIG names the file too. */
  setenv("ONAIR_CONFIG", file_path, 1);
  const char *none[] = {NULL};
  assert_int_equal(load(&cfg, none), 0);
  assert_int_equal(cfg.listen_port, 8181);
  unsetenv("ONAIR_CONFIG");

  static const struct {
    const char *name, *text;
  } bad[] = {
      {"line without =", "listen = :80\nthis is not a setting\n"},
      {"unknown key", "colour = blue\n"},
      {"bad port", "port = 0\n"},
      {"bad bool", "signup = sometimes\n"},
      {"empty key", "= 5\n"},
      {"bad line after good ones", "data = /x\nweb = /y\nport = abc\n"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    write_file(bad[i].text);
    int rc = load(&cfg, ARGS("--config", file_path));
    if (rc != -EINVAL) {
      print_error("file \"%s\": rc %d\n", bad[i].name, rc);
      fail();
    }
  }
  /* A file that does not exist. */
  char missing[160];
  snprintf(missing, sizeof(missing), "%s/missing.conf", tmpdir);
  assert_int_equal(load(&cfg, ARGS("--config", missing)), -EINVAL);
  setenv("ONAIR_CONFIG", missing, 1);
  assert_int_equal(load(&cfg, none), -EINVAL);
}

static void test_oidc(void **state) {
  (void)state;
  struct config cfg;
  assert_int_equal(
      load(&cfg, ARGS("--oidc-issuer", "https://idp.example", "--oidc-client-id", "cid",
                      "--oidc-client-secret", "s3cret", "--oidc-name", "Example", "--oidc-scopes",
                      "openid", "--oidc-jwks-min-interval-ms", "0")),
      0);
  assert_string_equal(cfg.oidc_issuer, "https://idp.example");
  assert_string_equal(cfg.oidc_client_id, "cid");
  assert_string_equal(cfg.oidc_client_secret, "s3cret");
  assert_string_equal(cfg.oidc_name, "Example");
  assert_string_equal(cfg.oidc_scopes, "openid");
  assert_int_equal(cfg.oidc_jwks_min_interval_ms, 0);
  static const struct {
    const char *key, *value;
    int rc;
  } sets[] = {
      {"oidc-jwks-min-interval-ms", "86400000", 0},
      {"oidc-jwks-min-interval-ms", "86400001", -EINVAL},
      {"oidc-jwks-min-interval-ms", "-1", -EINVAL},
      {"oidc-jwks-min-interval-ms", "soon", -EINVAL},
  };
  for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
    config_defaults(&cfg);
    int rc = config_set(&cfg, sets[i].key, sets[i].value);
    if (rc != sets[i].rc) {
      print_error("set %s=%s: rc %d, want %d\n", sets[i].key, sets[i].value, rc, sets[i].rc);
      fail();
    }
    if (rc < 0) /* a refused value leaves the default */
      assert_int_equal(cfg.oidc_jwks_min_interval_ms, 60000);
  }
}

static void test_okta_variables(void **state) {
  (void)state;
  struct config cfg;
  const char *none[] = {NULL};
  /* The tutorial's Okta variables. */
  static const struct {
    const char *base, *issuer;
  } okta[] = {
      {"https://dev-1.okta.com", "https://dev-1.okta.com/oauth2/default"},
      {"https://dev-1.okta.com/", "https://dev-1.okta.com/oauth2/default"},
      {"https://dev-1.okta.com///", "https://dev-1.okta.com/oauth2/default"},
  };
  for (size_t i = 0; i < sizeof(okta) / sizeof(okta[0]); i++) {
    clear_env();
    setenv("OKTA_BASE_URL", okta[i].base, 1);
    setenv("OKTA_CLIENT_ID", "0oa123", 1);
    setenv("OKTA_CLIENT_SECRET", "shh", 1);
    assert_int_equal(load(&cfg, none), 0);
    assert_string_equal(cfg.oidc_issuer, okta[i].issuer);
    assert_string_equal(cfg.oidc_name, "Okta");
    assert_string_equal(cfg.oidc_client_id, "0oa123");
    assert_string_equal(cfg.oidc_client_secret, "shh");
  }
  /* An empty OKTA_BASE_URL configures nothing. */
  clear_env();
  setenv("OKTA_BASE_URL", "", 1);
  assert_int_equal(load(&cfg, none), 0);
  assert_string_equal(cfg.oidc_issuer, "");
  /* ONAIR_ variables and flags beat the OKTA_ ones. */
  setenv("OKTA_BASE_URL", "https://dev-1.okta.com", 1);
  setenv("ONAIR_OIDC_ISSUER", "https://env.example", 1);
  assert_int_equal(load(&cfg, none), 0);
  assert_string_equal(cfg.oidc_issuer, "https://env.example");
  assert_int_equal(load(&cfg, ARGS("--oidc-issuer", "https://flag.example")), 0);
  assert_string_equal(cfg.oidc_issuer, "https://flag.example");
  /* An OKTA_BASE_URL too long for the issuer is an error, not a truncation. */
  clear_env();
  char longurl[600];
  memset(longurl, 'a', sizeof(longurl) - 1);
  longurl[sizeof(longurl) - 1] = 0;
  memcpy(longurl, "https://", 8);
  setenv("OKTA_BASE_URL", longurl, 1);
  assert_int_equal(load(&cfg, none), -EINVAL);
  /* The longest that fits: issuer + "/oauth2/default" + NUL = 512 bytes. */
  longurl[512 - sizeof("/oauth2/default")] = 0;
  setenv("OKTA_BASE_URL", longurl, 1);
  assert_int_equal(load(&cfg, none), 0);
  assert_int_equal(strlen(cfg.oidc_issuer), 511);
}

static void test_precedence(void **state) {
  (void)state;
  struct config cfg;
  write_file("port = 1111\n"
             "data = /from-file\n"
             "web = /web-from-file\n"
             "base-url = https://file.example\n");
  setenv("APP_BASE_PORT", "2222", 1);
  setenv("ONAIR_DATA", "/from-env", 1);
  /* Flags beat the environment, which beats the file. */
  assert_int_equal(load(&cfg, ARGS("--config", file_path, "--port", "3333")), 0);
  assert_int_equal(cfg.listen_port, 3333);
  assert_string_equal(cfg.data_dir, "/from-env");
  assert_string_equal(cfg.web_dir, "/web-from-file");
  assert_string_equal(cfg.base_url, "https://file.example");
  /* Without the flag the environment wins. */
  assert_int_equal(load(&cfg, ARGS("--config", file_path)), 0);
  assert_int_equal(cfg.listen_port, 2222);
  /* Without the environment the file wins over the defaults. */
  clear_env();
  assert_int_equal(load(&cfg, ARGS("--config", file_path)), 0);
  assert_int_equal(cfg.listen_port, 1111);
  assert_string_equal(cfg.data_dir, "/from-file");
  /* --config beats ONAIR_CONFIG. */
  char other[160];
  snprintf(other, sizeof(other), "%s/missing.conf", tmpdir);
  setenv("ONAIR_CONFIG", other, 1);
  assert_int_equal(load(&cfg, ARGS("--config", file_path)), 0);
  assert_int_equal(cfg.listen_port, 1111);
  /* A flag also beats the environment for the URL. */
  setenv("APP_BASE_URL", "https://env.example", 1);
  assert_int_equal(load(&cfg, ARGS("--config", file_path, "--base-url", "https://flag.example")),
                   0);
  assert_string_equal(cfg.base_url, "https://flag.example");
}

/* The number a numeric key's field holds (listen: its port). */
static uint64_t field_number(const struct config *cfg, const struct key_case *c) {
  const char *p = (const char *)cfg + c->offset;
  switch (c->type) {
  case CONFIG_INT:
  case CONFIG_BOOL: return (uint64_t) * (const int *)p;
  case CONFIG_UNSIGNED: return *(const unsigned *)p;
  case CONFIG_SIZE: return *(const size_t *)p;
  case CONFIG_U64: return *(const uint64_t *)p;
  case CONFIG_DOUBLE: return (uint64_t) * (const double *)p;
  case CONFIG_LISTEN: return (uint64_t)cfg->listen_port;
  case CONFIG_ADDR: return (uint64_t)((const struct config_addr *)p)->port;
  default: fail_msg("%s is not a number", c->key);
  }
  return 0;
}

/* config_set(key, value) on defaults returns rc; when it refuses, nothing
 * changed; when it takes a number, the field holds want. */
static void check_set(const struct key_case *c, const char *value, int rc, uint64_t want) {
  struct config defaults, cfg;
  config_defaults(&defaults);
  config_defaults(&cfg);
  int got = config_set(&cfg, c->key, value);
  if (got != rc) {
    print_error("set %s=\"%.40s\": rc %d, want %d\n", c->key, value, got, rc);
    fail();
  }
  if (rc < 0 && memcmp(&cfg, &defaults, sizeof(cfg)) != 0) {
    print_error("set %s=\"%.40s\" was refused but changed the settings\n", c->key, value);
    fail();
  }
  if (rc == 0 && c->type != CONFIG_STRING && field_number(&cfg, c) != want) {
    print_error("set %s=\"%s\": %llu, want %llu\n", c->key, value,
                (unsigned long long)field_number(&cfg, c), (unsigned long long)want);
    fail();
  }
}

static void check_number_key(const struct key_case *c) {
  int addr = c->type == CONFIG_LISTEN || c->type == CONFIG_ADDR;
  const char *prefix = addr ? "10.1.2.3:" : "";
  char v[96];
  const struct {
    uint64_t n;
    int rc;
  } bounds[] = {{c->min, 0}, {c->max, 0}, {c->min - 1, -EINVAL}, {c->max + 1, -EINVAL}};
  for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
    if (i == 2 && c->min == 0)
      continue; /* below 0 is "-1", below */
    snprintf(v, sizeof(v), "%s%llu", prefix, (unsigned long long)bounds[i].n);
    check_set(c, v, bounds[i].rc, bounds[i].n);
  }
  static const char *const junk[] = {"", "-1", "abc", "5x", "2.5", "0x10", "99999999999999999999"};
  for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
    if (!strcmp(junk[i], "0x10") && c->min == 0)
      continue; /* strtoull reads "0", then refuses the "x10": covered by "5x" */
    snprintf(v, sizeof(v), "%s%s", prefix, junk[i]);
    check_set(c, v, -EINVAL, 0);
  }
  if (!addr)
    check_set(c, c->good, 0, strtoull(c->good, NULL, 10));
  if (c->type == CONFIG_ADDR)
    check_set(c, "", 0, 0); /* none */
}

static void check_string_key(const struct key_case *c) {
  char v[2048];
  assert_true(c->size < sizeof(v));
  memset(v, 'x', c->size);
  v[c->size] = 0; /* one byte too long: refused, not truncated */
  check_set(c, v, -EINVAL, 0);
  v[c->size - 1] = 0; /* the longest that fits */
  check_set(c, v, 0, 0);
  struct config cfg;
  config_defaults(&cfg);
  assert_int_equal(config_set(&cfg, c->key, v), 0);
  assert_string_equal((const char *)&cfg + c->offset, v);
  assert_int_equal(config_set(&cfg, c->key, ""), 0);
  assert_string_equal((const char *)&cfg + c->offset, "");
  assert_int_equal(config_set(&cfg, c->key, c->good), 0);
  assert_string_equal((const char *)&cfg + c->offset, c->good);
}

/* Values of the keys that are lists with a rule of their own (not just a
 * length): what follows the rule is taken as written, the rest refused. */
struct list_value {
  const char *v;
  int rc;
};
static const struct list_value proxy_values[] = {
    {"", 0},
    {"::1", 0},
    {"127.0.0.1 192.168.0.0/16", 0},
    {"localhost", -EINVAL},
    {"10.0.0.1/8", -EINVAL},
    {"1.2.3.4,", 0},
    {"1.2.3.4, x", -EINVAL},
    {NULL, 0},
};
static const struct list_value turn_values[] = {
    {"", 0},
    {"turn:a:3478 turns:b:5349?transport=tcp", 0},
    {"stun:s", 0},
    {"http://x", -EINVAL},
    {"turn:a bogus", -EINVAL},
    {NULL, 0},
};

static const struct list_value announce_values[] = {
    {"", 0},
    {"203.0.113.7", 0},
    {"203.0.113.7, 2001:db8::7", 0},
    {"1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6 7.7.7.7 8.8.8.8", 0},
    {"1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6 7.7.7.7 8.8.8.8 9.9.9.9", -EINVAL},
    {"10.0.0.0/8", -EINVAL},
    {"media.example.org", -EINVAL},
    {NULL, 0},
};

static const struct list_value level_values[] = {
    {"debug", 0},         {"info", 0},   {"warn", 0},       {"error", 0},
    {"verbose", -EINVAL}, {"", -EINVAL}, {"INFO", -EINVAL}, {NULL, 0},
};
static const struct list_value format_values[] = {
    {"text", 0}, {"json", 0}, {"JSON", -EINVAL}, {"", -EINVAL}, {"logfmt", -EINVAL}, {NULL, 0},
};

static const struct list_value domain_values[] = {
    {"", 0},
    {"live.example.org", 0},
    {"example.org, www.example.org", 0},
    {"*.example.org", -EINVAL},
    {"192.0.2.1", -EINVAL},
    {"a..example.org", -EINVAL},
    {"https://example.org", -EINVAL},
    {NULL, 0},
};
static const struct list_value email_values[] = {
    {"", 0},
    {"ops@example.org", 0},
    {"ops", -EINVAL},
    {"ops@localhost", -EINVAL},
    {"mailto:ops@example.org", -EINVAL},
    {NULL, 0},
};
static const struct list_value directory_values[] = {
    {"https://acme-v02.api.letsencrypt.org/directory", 0},
    {"https://127.0.0.1:14000/dir", 0},
    {"", -EINVAL},
    {"http://ca.example/directory", -EINVAL},
    {"ca.example/directory", -EINVAL},
    {NULL, 0},
};

static const struct list_value redis_values[] = {
    {"", 0},
    {"redis://127.0.0.1:6379", 0},
    {"redis://redis.internal", 0},
    {"unix:/run/redis/redis.sock", 0},
    {"unix:redis.sock", -EINVAL},
    {"redis://", -EINVAL},
    {"redis://h:1/0", -EINVAL},
    {"http://h:6379", -EINVAL},
    {NULL, 0},
};
static const struct list_value secret_values[] = {
    {"", 0},
    {"0123456789abcdef", 0},
    {"0123456789abcde", -EINVAL},
    {NULL, 0},
};
static const struct list_value node_name_values[] = {
    {"", 0},          {"live-2.example:8080", 0}, {"node_3", 0},
    {"a b", -EINVAL}, {"a/b", -EINVAL},           {NULL, 0},
};
static const struct list_value node_address_values[] = {
    {"", 0},
    {"10.0.0.2", 0},
    {"fd00::2", 0},
    {"10.0.0.2 10.0.0.3", -EINVAL},
    {"10.0.0.0/8", -EINVAL},
    {"node2.internal", -EINVAL},
    {NULL, 0},
};

static const struct list_value *list_values(const struct key_case *c) {
  if (strcmp(c->key, "redis") == 0)
    return redis_values;
  if (strcmp(c->key, "cluster-secret") == 0)
    return secret_values;
  if (strcmp(c->key, "node-name") == 0)
    return node_name_values;
  if (strcmp(c->key, "node-address") == 0)
    return node_address_values;
  if (strcmp(c->key, "log-level") == 0)
    return level_values;
  if (strcmp(c->key, "log-format") == 0)
    return format_values;
  if (strcmp(c->key, "trusted-proxies") == 0 || strcmp(c->key, "metrics-allow") == 0)
    return proxy_values;
  if (strcmp(c->key, "media-announce") == 0)
    return announce_values;
  if (strcmp(c->key, "turn-url") == 0)
    return turn_values;
  if (strcmp(c->key, "tls-domain") == 0)
    return domain_values;
  if (strcmp(c->key, "tls-email") == 0)
    return email_values;
  if (strcmp(c->key, "acme-directory") == 0)
    return directory_values;
  return NULL;
}

static int is_list(const struct key_case *c) { return list_values(c) != NULL; }

static void check_list_key(const struct key_case *c) {
  const struct list_value *lists = list_values(c);
  for (size_t i = 0; lists[i].v; i++) {
    check_set(c, lists[i].v, lists[i].rc, 0);
    struct config cfg;
    config_defaults(&cfg);
    if (lists[i].rc == 0 && config_set(&cfg, c->key, lists[i].v) == 0)
      assert_string_equal((const char *)&cfg + c->offset, lists[i].v);
  }
  check_set(c, c->good, 0, 0);
}

static void check_bool_key(const struct key_case *c) {
  static const struct {
    const char *v;
    int rc, want;
  } words[] = {
      {"1", 0, 1},           {"true", 0, 1},    {"yes", 0, 1},    {"on", 0, 1},
      {"0", 0, 0},           {"false", 0, 0},   {"no", 0, 0},     {"off", 0, 0},
      {"TRUE", -EINVAL, 0},  {"2", -EINVAL, 0}, {"", -EINVAL, 0}, {"on ", -EINVAL, 0},
      {"maybe", -EINVAL, 0},
  };
  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
    check_set(c, words[i].v, words[i].rc, (uint64_t)words[i].want);
}

/* Every key: a good value, each bound, just outside them, junk. */
static void test_every_key_values(void **state) {
  (void)state;
  for (size_t i = 0; i < N_KEY_CASES; i++) {
    const struct key_case *c = &key_cases[i];
    switch (c->type) {
    case CONFIG_STRING: is_list(c) ? check_list_key(c) : check_string_key(c); break;
    case CONFIG_BOOL: check_bool_key(c); break;
    case CONFIG_FILE: check_set(c, "/etc/onair.conf", -ENOENT, 0); break;
    default: check_number_key(c); break;
    }
  }
  /* listen's own forms are test_listen_and_port_flags'; its good value: */
  struct config cfg;
  config_defaults(&cfg);
  assert_int_equal(config_set(&cfg, "listen", key_cases[1].good), 0);
  assert_string_equal(cfg.listen_host, "::1");
  assert_int_equal(cfg.listen_port, 7777);
  /* Not keys. */
  static const char *const unknown[] = {"nosuchkey", "",           "help", "help-markdown",
                                        "-h",        "--port",     "PORT", "Port",
                                        "port ",     "listen-host"};
  for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
    assert_int_equal(config_set(&cfg, unknown[i], "1"), -ENOENT);
}

static void check_same(const struct config *got, const struct config *want, const char *key,
                       const char *source) {
  if (memcmp(got, want, sizeof(*got)) != 0) {
    print_error("%s from %s: not the same as config_set gives\n", key, source);
    fail();
  }
}

/* A key set from a flag, the file, its ONAIR_ variable and its tutorial
 * variable ends up exactly as config_set puts it. */
static void test_every_key_from_every_source(void **state) {
  (void)state;
  const char *none[] = {NULL};
  for (size_t i = 0; i < N_KEY_CASES; i++) {
    const struct key_case *c = &key_cases[i];
    struct config defaults, want, got;
    char flag[64], line[128];
    clear_env();
    if (c->type == CONFIG_FILE) {
      write_file("config = /etc/onair.conf\n"); /* a file does not name another */
      assert_int_equal(load(&got, ARGS("--config", file_path)), -EINVAL);
      continue;
    }
    config_defaults(&defaults);
    config_defaults(&want);
    assert_int_equal(config_set(&want, c->key, c->good), 0);
    assert_true(memcmp(&want, &defaults, sizeof(want)) != 0); /* good is not the default */
    snprintf(flag, sizeof(flag), "--%s", c->key);
    assert_int_equal(load(&got, ARGS(flag, c->good)), 0);
    check_same(&got, &want, c->key, "its flag");
    snprintf(line, sizeof(line), "%s = %s\n", c->key, c->good);
    write_file(line);
    assert_int_equal(load(&got, ARGS("--config", file_path)), 0);
    check_same(&got, &want, c->key, "the file");
    char bad[2048] = "not a value"; /* a string key's: one byte too long */
    if (c->type == CONFIG_STRING) {
      assert_true(c->size < sizeof(bad));
      memset(bad, 'x', c->size);
      bad[c->size] = 0;
    }
    const char *vars[] = {c->env, c->alias};
    for (size_t j = 0; j < 2; j++) {
      if (vars[j] == NULL)
        continue;
      setenv(vars[j], c->good, 1);
      assert_int_equal(load(&got, none), 0);
      check_same(&got, &want, c->key, vars[j]);
      setenv(vars[j], bad, 1);
      assert_int_equal(load(&got, none), -EINVAL);
      unsetenv(vars[j]);
    }
  }
  /* port has no ONAIR_PORT (as before the table): it is not read. */
  struct config got;
  setenv("ONAIR_PORT", "3000", 1);
  assert_int_equal(load(&got, none), 0);
  assert_int_equal(got.listen_port, 8080);
}

/* config_keys[] is key_cases[], in the same order; every default it gives
 * is one config_set takes (config_defaults only asserts that). */
static void test_key_table(void **state) {
  (void)state;
  size_t n = 0;
  for (const struct config_key *k = config_keys; k->key; k++, n++) {
    assert_true(n < N_KEY_CASES);
    const struct key_case *c = &key_cases[n];
    if (strcmp(k->key, c->key) != 0 || k->type != c->type) {
      print_error("config_keys[%zu] is %s, key_cases has %s\n", n, k->key, c->key);
      fail();
    }
    assert_non_null(k->arg);
    assert_non_null(k->help);
    const char *texts[] = {k->arg, k->help, k->doc, k->doc_default, k->def};
    for (size_t j = 0; j < sizeof(texts) / sizeof(texts[0]); j++) {
      if (texts[j] && strpbrk(texts[j], "|\n")) {
        print_error("%s: \"%s\" would break the docs' table\n", k->key, texts[j]);
        fail();
      }
    }
    struct config cfg;
    config_defaults(&cfg);
    if (k->def && config_set(&cfg, k->key, k->def) != 0) {
      print_error("%s: default \"%s\" refused\n", k->key, k->def);
      fail();
    }
  }
  assert_int_equal(n, N_KEY_CASES);
}

/* Runs load(args) with stdout in a file; returns what it printed (caller
 * frees) and load's result in *rc. */
static char *load_stdout(const char *const *args, int *rc) {
  struct config cfg;
  FILE *out = tmpfile();
  assert_non_null(out);
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  assert_true(saved >= 0);
  assert_true(dup2(fileno(out), STDOUT_FILENO) >= 0);
  *rc = load(&cfg, args);
  fflush(stdout);
  assert_true(dup2(saved, STDOUT_FILENO) >= 0);
  close(saved);
  assert_int_equal(fseek(out, 0, SEEK_END), 0);
  long len = ftell(out);
  assert_true(len > 0);
  rewind(out);
  char *text = calloc(1, (size_t)len + 1);
  assert_non_null(text);
  assert_int_equal(fread(text, 1, (size_t)len, out), (size_t)len);
  fclose(out);
  return text;
}

static void test_help_lists_every_key(void **state) {
  (void)state;
  int rc;
  char *help = load_stdout(ARGS("--help"), &rc);
  assert_int_equal(rc, 1);
  assert_non_null(strstr(help, "usage: onair"));
  for (size_t i = 0; i < N_KEY_CASES; i++) {
    char flag[64];
    snprintf(flag, sizeof(flag), "\n  --%s ", key_cases[i].key);
    if (strstr(help, flag) == NULL) {
      print_error("--help has no line for --%s:\n%s", key_cases[i].key, help);
      fail();
    }
    if (key_cases[i].alias && strstr(help, key_cases[i].alias) == NULL) {
      print_error("--help does not name %s\n", key_cases[i].alias);
      fail();
    }
  }
  assert_non_null(strstr(help, "ONAIR_<KEY>"));
  assert_non_null(strstr(help, "OKTA_BASE_URL"));
  free(help);
}

/* One line of the docs' table per key: its name, its variables, its range. */
static void test_markdown_lists_every_key(void **state) {
  (void)state;
  int rc;
  char *md = load_stdout(ARGS("--help-markdown"), &rc);
  assert_int_equal(rc, 1);
  assert_memory_equal(md, "| key | environment | default | values | meaning |\n| --- |", 56);
  size_t lines = 0;
  for (const char *p = md; *p; p++)
    lines += *p == '\n';
  assert_int_equal(lines, 2 + N_KEY_CASES);
  for (size_t i = 0; i < N_KEY_CASES; i++) {
    const struct key_case *c = &key_cases[i];
    char start[64], range[64];
    snprintf(start, sizeof(start), "\n| `%s` | ", c->key);
    const char *line = strstr(md, start);
    assert_non_null(line);
    line++;
    size_t len = strcspn(line, "\n"), bars = 0;
    for (size_t j = 0; j < len; j++)
      bars += line[j] == '|';
    assert_int_equal(bars, 6);
    const char *want[] = {c->env, c->alias, NULL};
    if (c->type != CONFIG_STRING && c->type != CONFIG_BOOL && c->type != CONFIG_FILE) {
      snprintf(range, sizeof(range), "%llu to %llu", (unsigned long long)c->min,
               (unsigned long long)c->max);
      want[2] = range;
    }
    for (size_t j = 0; j < 3; j++) {
      if (want[j] && (memmem(line, len, want[j], strlen(want[j])) == NULL)) {
        print_error("docs line of %s lacks %s: %.*s\n", c->key, want[j], (int)len, line);
        fail();
      }
    }
  }
  free(md);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listen_and_port_flags, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_flags, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_help, setup, teardown),
      cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oidc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_okta_variables, setup, teardown),
      cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_table, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_key_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_key_from_every_source, setup, teardown),
      cmocka_unit_test_setup_teardown(test_help_lists_every_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_markdown_lists_every_key, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
