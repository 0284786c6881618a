/* What an ACME server sends, as src/acme/msg.c reads it: the directory,
 * orders, authorizations and problem documents, each good form and the bad
 * ones a broken or hostile server could send (not JSON, wrong types, http
 * URLs, lists too long, tokens that are not base64url, control characters
 * in texts); and the checks of the settings (tls-domain, tls-email,
 * acme-directory). Every case is a row; a failing row names itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/msg.h"
#include "case_check.h"

struct text_case {
  const char *name;
  const char *in;
  int ok; /* 1: accepted */
};

static void test_names(void **state) {
  static const struct text_case cases[] = {
      {"one", "live.example.org", 1},
      {"none", "", 1},
      {"two with comma", "example.org,www.example.org", 1},
      {"spaces and commas", " example.org ,  www.example.org\t", 1},
      {"upper case folded", "Live.Example.ORG", 1},
      {"single label", "localhost", 1},
      {"digits in labels", "1a.example.org", 1},
      {"hyphen inside", "my-site.example.org", 1},
      {"eight", "a.x,b.x,c.x,d.x,e.x,f.x,g.x,h.x", 1},
      {"nine", "a.x,b.x,c.x,d.x,e.x,f.x,g.x,h.x,i.x", 0},
      {"duplicate", "a.example,A.example", 0},
      {"wildcard", "*.example.org", 0},
      {"IPv4 address", "192.0.2.1", 0},
      {"numeric last label", "example.123", 0},
      {"IPv6 address", "2001:db8::1", 0},
      {"empty label", "a..example", 0},
      {"leading dot", ".example.org", 0},
      {"trailing dot", "example.org.", 0},
      {"leading hyphen", "-a.example", 0},
      {"trailing hyphen", "a-.example", 0},
      {"underscore", "a_b.example", 0},
      {"slash", "example.org/x", 0},
      {"URL", "https://example.org", 0},
      {"label of 64", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
       0},
      {"label of 63", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", 1},
      {"non-ASCII",
       "b\xc3\xbc"
       "cher.example",
       0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct text_case *c = &cases[i];
    struct acme_names n;
    CHECK(c, (acme_names_parse(c->in, &n) == 0) == c->ok);
  }
  struct acme_names n;
  assert_int_equal(acme_names_parse(" Live.Example.org, www.example.org", &n), 0);
  assert_int_equal(n.n, 2);
  assert_string_equal(n.name[0], "live.example.org");
  assert_string_equal(n.name[1], "www.example.org");
  /* 253 characters: the longest name. */
  char longest[300], label[64];
  memset(label, 'a', 63);
  label[63] = 0;
  snprintf(longest, sizeof(longest), "%s.%s.%s.%.61s", label, label, label, label);
  assert_int_equal(strlen(longest), 253);
  assert_int_equal(acme_names_parse(longest, &n), 0);
  strcat(longest, "a"); /* 254 */
  assert_int_equal(acme_names_parse(longest, &n), -EINVAL);
}

static void test_email_url_token(void **state) {
  static const struct text_case emails[] = {
      {"plain", "ops@example.org", 1},
      {"plus", "ops+acme@example.org", 1},
      {"no at", "ops.example.org", 0},
      {"two at", "a@b@example.org", 0},
      {"no local part", "@example.org", 0},
      {"no dot in domain", "ops@localhost", 0},
      {"space", "o ps@example.org", 0},
      {"angle brackets", "<ops@example.org>", 0},
      {"comma", "a@example.org,b@example.org", 0},
      {"newline", "ops@example.org\n", 0},
      {"mailto URL", "mailto:ops@example.org", 0},
  };
  for (size_t i = 0; i < sizeof(emails) / sizeof(emails[0]); i++)
    CHECK(&emails[i], acme_email_ok(emails[i].in) == emails[i].ok);
  static const struct text_case urls[] = {
      {"https", "https://acme-v02.api.letsencrypt.org/directory", 1},
      {"with port", "https://127.0.0.1:14000/dir", 1},
      {"http", "http://example.org/dir", 0},
      {"no host", "https://", 0},
      {"no host, a path", "https:///dir", 0},
      {"space", "https://example.org/a b", 0},
      {"quote", "https://example.org/\"", 0},
      {"backslash", "https://example.org\\@evil", 0},
      {"control", "https://example.org/\x01", 0},
      {"empty", "", 0},
      {"data", "data:text/plain,x", 0},
  };
  for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
    CHECK(&urls[i], acme_url_ok(urls[i].in) == urls[i].ok);
  char longurl[ACME_URL_MAX + 1];
  memset(longurl, 'a', sizeof(longurl) - 1);
  memcpy(longurl, "https://", 8);
  longurl[ACME_URL_MAX - 1] = 0; /* 1023 characters: fits */
  assert_true(acme_url_ok(longurl));
  longurl[ACME_URL_MAX - 1] = 'a';
  longurl[ACME_URL_MAX] = 0;
  assert_false(acme_url_ok(longurl));
  static const struct text_case tokens[] = {
      {"pebble's", "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", 1},
      {"16", "abcdefghijklmnop", 1},
      {"15", "abcdefghijklmno", 0},
      {"dot", "abcdefghijklmnop.q", 0},
      {"slash", "abcdefghijklmnop/../x", 0},
      {"plus (base64, not url)", "abcdefghijklmnop+", 0},
      {"padding", "abcdefghijklmnop==", 0},
      {"percent", "abcdefghijklmnop%2e", 0},
  };
  for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
    CHECK(&tokens[i], acme_token_ok(tokens[i].in, strlen(tokens[i].in)) == tokens[i].ok);
  char tok[ACME_TOKEN_MAX + 2];
  memset(tok, 'x', sizeof(tok));
  assert_true(acme_token_ok(tok, ACME_TOKEN_MAX));
  assert_false(acme_token_ok(tok, ACME_TOKEN_MAX + 1));
}

#define DIR_OK                                                                              \
  "{\"newNonce\":\"https://ca.example/nonce\",\"newAccount\":\"https://ca.example/acct\","  \
  "\"newOrder\":\"https://ca.example/order\",\"revokeCert\":\"https://ca.example/revoke\"," \
  "\"meta\":{\"termsOfService\":\"data:text/plain,Do%20what%20thou%20wilt\"}}"

struct parse_case {
  const char *name;
  const char *body;
  int ok;
  const char *err; /* a part of the error when refused, or NULL */
};

static void test_directory(void **state) {
  static const struct parse_case cases[] = {
      {"pebble's", DIR_OK, 1, NULL},
      {"no meta",
       "{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\","
       "\"newOrder\":\"https://a/o\"}",
       1, NULL},
      {"meta not an object",
       "{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\","
       "\"newOrder\":\"https://a/o\",\"meta\":7}",
       1, NULL},
      {"no newNonce", "{\"newAccount\":\"https://a/a\",\"newOrder\":\"https://a/o\"}", 0,
       "newNonce"},
      {"http newOrder",
       "{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\","
       "\"newOrder\":\"http://a/o\"}",
       0, "newOrder"},
      {"number", "{\"newNonce\":1,\"newAccount\":\"https://a/a\",\"newOrder\":\"https://a/o\"}", 0,
       "newNonce"},
      {"duplicate key", "{\"newNonce\":\"https://a/n\",\"newNonce\":\"https://b/n\"}", 0,
       "not JSON"},
      {"array", "[\"https://a/n\"]", 0, "not a JSON object"},
      {"HTML", "<html>nope</html>", 0, "not JSON"},
      {"empty", "", 0, "not JSON"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct parse_case *c = &cases[i];
    struct acme_directory d;
    char err[ACME_ERR_MAX] = "";
    int rc = acme_directory_parse(c->body, strlen(c->body), &d, err);
    CHECK(c, (rc == 0) == c->ok);
    CHECK(c, c->ok || rc == -EPROTO);
    CHECK(c, c->err == NULL || strstr(err, c->err) != NULL);
  }
  struct acme_directory d;
  char err[ACME_ERR_MAX];
  assert_int_equal(acme_directory_parse(DIR_OK, strlen(DIR_OK), &d, err), 0);
  assert_string_equal(d.new_nonce, "https://ca.example/nonce");
  assert_string_equal(d.new_account, "https://ca.example/acct");
  assert_string_equal(d.new_order, "https://ca.example/order");
  assert_string_equal(d.terms, "data:text/plain,Do%20what%20thou%20wilt");
  /* A body with a NUL inside is not JSON. */
  static const char nul[] = "{\"newNonce\":\"https://a/n\"}\0junk";
  assert_int_equal(acme_directory_parse(nul, sizeof(nul) - 1, &d, err), -EPROTO);
}

#define AUTHZ_URLS "\"authorizations\":[\"https://ca.example/authz/1\"]"
#define FIN "\"finalize\":\"https://ca.example/finalize/1\""

static void test_order(void **state) {
  static const struct parse_case cases[] = {
      {"pending", "{\"status\":\"pending\"," AUTHZ_URLS "," FIN "}", 1, NULL},
      {"valid with certificate",
       "{\"status\":\"valid\"," AUTHZ_URLS "," FIN ",\"certificate\":\"https://ca.example/c/1\"}",
       1, NULL},
      {"valid without certificate", "{\"status\":\"valid\"," AUTHZ_URLS "," FIN "}", 0,
       "certificate"},
      {"invalid with error",
       "{\"status\":\"invalid\"," AUTHZ_URLS "," FIN
       ",\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"no\"}}",
       1, NULL},
      {"unknown status", "{\"status\":\"done\"," AUTHZ_URLS "," FIN "}", 0, "status"},
      {"status a number", "{\"status\":1," AUTHZ_URLS "," FIN "}", 0, "status"},
      {"no authorizations", "{\"status\":\"pending\"," FIN "}", 0, "authorizations"},
      {"empty authorizations", "{\"status\":\"pending\",\"authorizations\":[]," FIN "}", 0,
       "authorizations"},
      {"nine authorizations",
       "{\"status\":\"pending\",\"authorizations\":[\"https://a/1\",\"https://a/2\","
       "\"https://a/3\",\"https://a/4\",\"https://a/5\",\"https://a/6\",\"https://a/7\","
       "\"https://a/8\",\"https://a/9\"]," FIN "}",
       0, "authorizations"},
      {"authorization not a string", "{\"status\":\"pending\",\"authorizations\":[{}]," FIN "}", 0,
       "authorization 0"},
      {"authorization over http",
       "{\"status\":\"pending\",\"authorizations\":[\"http://a/1\"]," FIN "}", 0,
       "authorization 0"},
      {"no finalize", "{\"status\":\"pending\"," AUTHZ_URLS "}", 0, "finalize"},
      {"finalize to a file", "{\"status\":\"pending\"," AUTHZ_URLS ",\"finalize\":\"file:///x\"}",
       0, "finalize"},
      {"not an object", "[\"pending\"]", 0, "not a JSON object"},
      {"a bare string", "\"pending\"", 0, "not JSON"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct parse_case *c = &cases[i];
    struct acme_order o;
    char err[ACME_ERR_MAX] = "";
    int rc = acme_order_parse(c->body, strlen(c->body), &o, err);
    CHECK(c, (rc == 0) == c->ok);
    CHECK(c, c->err == NULL || strstr(err, c->err) != NULL);
  }
  static const char inv[] = "{\"status\":\"invalid\"," AUTHZ_URLS "," FIN
                            ",\"error\":{\"type\":\"urn:x\",\"detail\":\"bad\\u0007\\nname\"}}";
  struct acme_order o;
  char err[ACME_ERR_MAX];
  assert_int_equal(acme_order_parse(inv, strlen(inv), &o, err), 0);
  assert_int_equal(o.status, ACME_INVALID);
  assert_int_equal(o.nauthz, 1);
  assert_string_equal(o.authz[0], "https://ca.example/authz/1");
  assert_string_equal(o.finalize, "https://ca.example/finalize/1");
  assert_string_equal(o.error, "urn:x: bad??name"); /* control characters replaced */
}

#define TOKEN "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define ID "\"identifier\":{\"type\":\"dns\",\"value\":\"live.example.org\"}"
#define HTTP01(status, token)                                                            \
  "{\"type\":\"http-01\",\"url\":\"https://ca.example/chal/1\",\"token\":\"" token "\"," \
  "\"status\":\"" status "\"}"
#define DNS01 "{\"type\":\"dns-01\",\"url\":\"https://ca.example/chal/2\",\"token\":\"x\"}"

static void test_authz(void **state) {
  static const struct parse_case cases[] = {
      {"pending, http-01 among others",
       "{\"status\":\"pending\"," ID ",\"challenges\":[" DNS01 "," HTTP01("pending", TOKEN) "]}", 1,
       NULL},
      {"valid without http-01", "{\"status\":\"valid\"," ID ",\"challenges\":[" DNS01 "]}", 1,
       NULL},
      {"pending without http-01", "{\"status\":\"pending\"," ID ",\"challenges\":[" DNS01 "]}", 0,
       "no http-01"},
      {"no challenges list", "{\"status\":\"pending\"," ID "}", 0, "challenges"},
      {"token too short",
       "{\"status\":\"pending\"," ID ",\"challenges\":[" HTTP01("pending", "abc") "]}", 0, "token"},
      {"token a path",
       "{\"status\":\"pending\"," ID
       ",\"challenges\":[" HTTP01("pending", "../../../../etc/passwd") "]}",
       0, "token"},
      {"token with a dot",
       "{\"status\":\"pending\"," ID ",\"challenges\":[" HTTP01("pending", TOKEN ".x") "]}", 0,
       "token"},
      {"challenge without status",
       "{\"status\":\"pending\"," ID ",\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://"
       "a/c\",\"token\":\"" TOKEN "\"}]}",
       0, "status"},
      {"challenge URL over http",
       "{\"status\":\"pending\"," ID ",\"challenges\":[{\"type\":\"http-01\",\"url\":\"http://"
       "a/c\",\"token\":\"" TOKEN "\",\"status\":\"pending\"}]}",
       0, "url"},
      {"IP identifier",
       "{\"status\":\"pending\",\"identifier\":{\"type\":\"ip\",\"value\":\"192.0.2.1\"},"
       "\"challenges\":[" HTTP01("pending", TOKEN) "]}",
       0, "identifier"},
      {"no identifier", "{\"status\":\"pending\",\"challenges\":[" HTTP01("pending", TOKEN) "]}", 0,
       "identifier"},
      {"wildcard",
       "{\"status\":\"pending\"," ID
       ",\"wildcard\":true,\"challenges\":[" HTTP01("pending", TOKEN) "]}",
       0, "wildcard"},
      {"unknown status", "{\"status\":\"busy\"," ID ",\"challenges\":[]}", 0, "status"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct parse_case *c = &cases[i];
    struct acme_authz a;
    char err[ACME_ERR_MAX] = "";
    int rc = acme_authz_parse(c->body, strlen(c->body), &a, err);
    CHECK(c, (rc == 0) == c->ok);
    CHECK(c, c->err == NULL || strstr(err, c->err) != NULL);
  }
  static const char good[] =
      "{\"status\":\"pending\"," ID ",\"challenges\":[" DNS01 ","
      "{\"type\":\"http-01\",\"url\":\"https://ca.example/chal/1\",\"token\":\"" TOKEN "\","
      "\"status\":\"invalid\",\"error\":{\"type\":\"urn:ietf:params:acme:error:connection\","
      "\"detail\":\"refused\"}}]}";
  struct acme_authz a;
  char err[ACME_ERR_MAX];
  assert_int_equal(acme_authz_parse(good, strlen(good), &a, err), 0);
  assert_int_equal(a.status, ACME_PENDING);
  assert_string_equal(a.name, "live.example.org");
  assert_string_equal(a.url, "https://ca.example/chal/1");
  assert_string_equal(a.token, TOKEN);
  assert_int_equal(a.challenge_status, ACME_INVALID);
  assert_string_equal(a.error, "urn:ietf:params:acme:error:connection: refused");
  /* Seventeen challenges are more than any CA offers. */
  char many[4096] = "{\"status\":\"pending\"," ID ",\"challenges\":[";
  for (int i = 0; i < 17; i++)
    strcat(many, i ? "," DNS01 : DNS01);
  strcat(many, "]}");
  assert_int_equal(acme_authz_parse(many, strlen(many), &a, err), -EPROTO);
}

static void test_problem(void **state) {
  struct acme_problem p;
  static const char bad_nonce[] = "{\"type\":\"urn:ietf:params:acme:error:badNonce\","
                                  "\"detail\":\"JWS has an invalid anti-replay nonce\","
                                  "\"status\":400}";
  assert_int_equal(acme_problem_parse(bad_nonce, strlen(bad_nonce), &p), 0);
  assert_true(acme_problem_is(&p, "badNonce"));
  assert_false(acme_problem_is(&p, "badNonc"));
  assert_false(acme_problem_is(&p, "accountDoesNotExist"));
  assert_string_equal(p.detail, "JWS has an invalid anti-replay nonce");
  static const char other[] = "{\"type\":\"about:blank:badNonce\"}";
  assert_int_equal(acme_problem_parse(other, strlen(other), &p), 0);
  assert_false(acme_problem_is(&p, "badNonce"));
  static const char odd[] = "{\"type\":7,\"detail\":[\"x\"]}";
  assert_int_equal(acme_problem_parse(odd, strlen(odd), &p), 0);
  assert_string_equal(p.type, "");
  assert_string_equal(p.detail, "");
  assert_int_equal(acme_problem_parse("Bad Gateway", 11, &p), -EPROTO);
  assert_int_equal(acme_problem_parse("[]", 2, &p), -EPROTO);
  /* A long detail is cut to fit, not overflowed. */
  char big[2048];
  int n = snprintf(big, sizeof(big), "{\"detail\":\"");
  memset(big + n, 'd', 1500);
  strcpy(big + n + 1500, "\"}");
  assert_int_equal(acme_problem_parse(big, strlen(big), &p), 0);
  assert_int_equal(strlen(p.detail), sizeof(p.detail) - 1);
}

static void test_text_copy(void **state) {
  char out[8];
  acme_text_copy(out, sizeof(out), "ab\ncd\x7f\xc3", 7);
  assert_string_equal(out, "ab?cd??");
  acme_text_copy(out, sizeof(out), "0123456789", 10);
  assert_string_equal(out, "0123456");
  acme_text_copy(out, 1, "x", 1);
  assert_string_equal(out, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),     cmocka_unit_test(test_email_url_token),
      cmocka_unit_test(test_directory), cmocka_unit_test(test_order),
      cmocka_unit_test(test_authz),     cmocka_unit_test(test_problem),
      cmocka_unit_test(test_text_copy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
