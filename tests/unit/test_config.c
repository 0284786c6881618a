/* Tests for src/app/config.c: defaults, flags (listen forms, ports, unknown
 * flags, --help), the environment (ONAIR_*, APP_BASE_PORT, APP_BASE_URL), a
 * config file with comments and bad lines, and the precedence
 * flags > environment > file > defaults. */
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
    "ONAIR_CONFIG",       "APP_BASE_PORT",        "APP_BASE_URL",
    "ONAIR_LISTEN",       "ONAIR_DATA",           "ONAIR_WEB",
    "ONAIR_BASE_URL",     "ONAIR_SIGNUP",         "ONAIR_LOG_LEVEL",
    "ONAIR_WS_PING_MS",   "ONAIR_WS_TIMEOUT_MS",  "ONAIR_CHAT_BURST",
    "ONAIR_CHAT_PER_SEC", "ONAIR_MAX_VIEWERS",    "ONAIR_PORT",
    "ONAIR_OIDC_ISSUER",  "ONAIR_OIDC_CLIENT_ID", "ONAIR_OIDC_CLIENT_SECRET",
    "ONAIR_OIDC_NAME",    "ONAIR_OIDC_SCOPES",    "ONAIR_OIDC_JWKS_MIN_INTERVAL_MS",
    "OKTA_BASE_URL",      "OKTA_CLIENT_ID",       "OKTA_CLIENT_SECRET",
};

static char tmpdir[64];
static char file_path[128];

static void clear_env(void) {
  for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
    unsetenv(env_names[i]);
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
  assert_string_equal(cfg.listen_host, "127.0.0.1"); /* not every interface */
  assert_int_equal(cfg.listen_port, 8080);
  assert_string_equal(cfg.data_dir, "data");
  assert_string_equal(cfg.web_dir, "web");
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
  /* No flags, no environment, no file: the defaults stand. */
  const char *none[] = {NULL};
  assert_int_equal(load(&cfg, none), 0);
  assert_string_equal(cfg.listen_host, "127.0.0.1");
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
      {"--port alone", ARGS("--port", "3000"), 0, "127.0.0.1", 3000},
      {"--port 1", ARGS("--port", "1"), 0, "127.0.0.1", 1},
      {"--port 65535", ARGS("--port", "65535"), 0, "127.0.0.1", 65535},
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
  assert_string_equal(cfg.listen_host, "127.0.0.1");
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
  assert_string_equal(cfg.listen_host, "127.0.0.1");

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
  const char *none[] = {NULL};
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listen_and_port_flags, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_flags, setup, teardown),
      cmocka_unit_test_setup_teardown(test_help, setup, teardown),
      cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oidc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
