#include "acme/msg.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ACME_JSON_FLAGS JSON_REJECT_DUPLICATES

void acme_text_copy(char *dst, size_t size, const char *src, size_t len) {
  size_t n = 0;
  if (size == 0)
    return;
  for (size_t i = 0; i < len && n + 1 < size; i++) {
    unsigned char ch = (unsigned char)src[i];
    dst[n++] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
  }
  dst[n] = 0;
}

static int msg_fail(char err[ACME_ERR_MAX], const char *fmt, ...) {
  char raw[ACME_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof(raw), fmt, ap);
  va_end(ap);
  acme_text_copy(err, ACME_ERR_MAX, raw, strlen(raw));
  return -EPROTO;
}

/* ---- the settings' checks ------------------------------------------------ */

/* A DNS name of LDH labels (lower case already), not all-numeric last. */
static int name_ok(const char *s, size_t len) {
  if (len == 0 || len >= ACME_NAME_MAX)
    return 0;
  size_t label = 0;
  int digits_only = 1;
  for (size_t i = 0; i <= len; i++) {
    char ch = i < len ? s[i] : '.';
    if (ch == '.') {
      if (label == 0 || label > 63 || s[i - 1] == '-')
        return 0;
      label = 0;
      if (i < len)
        digits_only = 1;
      continue;
    }
    if (!(islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '-'))
      return 0;
    if (ch == '-' && label == 0)
      return 0;
    if (!isdigit((unsigned char)ch))
      digits_only = 0;
    label++;
  }
  return !digits_only;
}

int acme_names_parse(const char *list, struct acme_names *out) {
  out->n = 0;
  const char *p = list;
  for (;;) {
    p += strspn(p, ", \t");
    if (*p == 0)
      return 0;
    size_t len = strcspn(p, ", \t");
    if (out->n == ACME_NAMES_MAX || len >= ACME_NAME_MAX)
      return -EINVAL;
    char *name = out->name[out->n];
    for (size_t i = 0; i < len; i++)
      name[i] = (char)tolower((unsigned char)p[i]);
    name[len] = 0;
    if (!name_ok(name, len))
      return -EINVAL;
    for (size_t i = 0; i < out->n; i++) {
      if (strcmp(out->name[i], name) == 0)
        return -EINVAL;
    }
    out->n++;
    p += len;
  }
}

int acme_email_ok(const char *s) {
  const char *at = strchr(s, '@');
  size_t len = strlen(s);
  if (at == NULL || at == s || at - s > 64 || len > 254 || strchr(at + 1, '@'))
    return 0;
  for (const char *p = s; p < at; p++) {
    if (*p <= ' ' || *p >= 0x7f || strchr("<>()[],;:\"\\", *p))
      return 0;
  }
  char domain[ACME_NAME_MAX];
  size_t dl = len - (size_t)(at + 1 - s);
  if (dl >= sizeof(domain))
    return 0;
  for (size_t i = 0; i < dl; i++)
    domain[i] = (char)tolower((unsigned char)at[1 + i]);
  domain[dl] = 0;
  return strchr(domain, '.') != NULL && name_ok(domain, dl);
}

int acme_url_ok(const char *s) {
  size_t len = strlen(s);
  if (len >= ACME_URL_MAX || strncmp(s, "https://", 8) != 0 || len == 8 || s[8] == '/')
    return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= ' ' || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '<' || ch == '>')
      return 0;
  }
  return 1;
}

int acme_b64url_chars(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (!(ch >= 'A' && ch <= 'Z') && !(ch >= 'a' && ch <= 'z') && !(ch >= '0' && ch <= '9') &&
        ch != '-' && ch != '_')
      return 0;
  }
  return 1;
}

int acme_token_ok(const char *s, size_t len) {
  return len >= ACME_TOKEN_MIN && len <= ACME_TOKEN_MAX && acme_b64url_chars(s, len);
}

/* ---- the server's objects ---------------------------------------------- */

static const char *const status_names[] = {
    [ACME_PENDING] = "pending", [ACME_READY] = "ready",     [ACME_PROCESSING] = "processing",
    [ACME_VALID] = "valid",     [ACME_INVALID] = "invalid", [ACME_GONE] = "gone",
};

const char *acme_status_name(enum acme_status s) { return status_names[s]; }

static int status_parse(json_t *obj, enum acme_status *out) {
  static const struct {
    const char *name;
    enum acme_status st;
  } names[] = {{"pending", ACME_PENDING},       {"ready", ACME_READY},
               {"processing", ACME_PROCESSING}, {"valid", ACME_VALID},
               {"invalid", ACME_INVALID},       {"deactivated", ACME_GONE},
               {"expired", ACME_GONE},          {"revoked", ACME_GONE}};
  const char *s = json_string_value(json_object_get(obj, "status"));
  for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcmp(s, names[i].name) == 0) {
      *out = names[i].st;
      return 0;
    }
  }
  return -EPROTO;
}

/* obj[key] as an https URL into out; "" when absent and not required. */
static int url_get(json_t *obj, const char *key, int required, char out[ACME_URL_MAX],
                   const char *what, char err[ACME_ERR_MAX]) {
  json_t *v = json_object_get(obj, key);
  out[0] = 0;
  if (v == NULL && !required)
    return 0;
  const char *s = json_string_value(v);
  if (s == NULL || !acme_url_ok(s))
    return msg_fail(err, "%s: \"%s\" is %s", what, key, s ? "not an https URL" : "missing");
  memcpy(out, s, strlen(s) + 1);
  return 0;
}

/* The body as a JSON object, or NULL with err set. */
static json_t *object_load(const char *body, size_t len, const char *what, char err[ACME_ERR_MAX]) {
  json_error_t je;
  json_t *j = json_loadb(body, len, ACME_JSON_FLAGS, &je);
  if (j == NULL) {
    msg_fail(err, "%s: not JSON (%s)", what, je.text);
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    msg_fail(err, "%s: not a JSON object", what);
    return NULL;
  }
  return j;
}

int acme_directory_parse(const char *body, size_t len, struct acme_directory *d,
                         char err[ACME_ERR_MAX]) {
  json_t *j = object_load(body, len, "directory", err);
  if (j == NULL)
    return -EPROTO;
  int rc = url_get(j, "newNonce", 1, d->new_nonce, "directory", err);
  if (rc == 0)
    rc = url_get(j, "newAccount", 1, d->new_account, "directory", err);
  if (rc == 0)
    rc = url_get(j, "newOrder", 1, d->new_order, "directory", err);
  /* The terms are only named in the log: any URL (Pebble's is data:). */
  json_t *terms = json_object_get(json_object_get(j, "meta"), "termsOfService");
  d->terms[0] = 0;
  if (json_is_string(terms))
    acme_text_copy(d->terms, sizeof(d->terms), json_string_value(terms), json_string_length(terms));
  json_decref(j);
  return rc;
}

/* A problem object's type and detail as one line, into out. */
static void problem_text(json_t *prob, char out[ACME_ERR_MAX]) {
  const char *type = json_string_value(json_object_get(prob, "type"));
  const char *detail = json_string_value(json_object_get(prob, "detail"));
  char raw[ACME_ERR_MAX];
  snprintf(raw, sizeof(raw), "%s%s%s", type ? type : "", type && detail ? ": " : "",
           detail ? detail : "");
  acme_text_copy(out, ACME_ERR_MAX, raw, strlen(raw));
  if (out[0] == 0 && prob)
    snprintf(out, ACME_ERR_MAX, "(a problem without type or detail)");
}

static int order_authz(json_t *j, struct acme_order *o, char err[ACME_ERR_MAX]) {
  json_t *list = json_object_get(j, "authorizations");
  size_t n = json_array_size(list);
  if (!json_is_array(list) || n == 0 || n > ACME_NAMES_MAX)
    return msg_fail(err, "order: \"authorizations\" must list 1 to %d URLs", ACME_NAMES_MAX);
  for (size_t i = 0; i < n; i++) {
    const char *s = json_string_value(json_array_get(list, i));
    if (s == NULL || !acme_url_ok(s))
      return msg_fail(err, "order: authorization %zu is not an https URL", i);
    memcpy(o->authz[i], s, strlen(s) + 1);
  }
  o->nauthz = n;
  return 0;
}

int acme_order_parse(const char *body, size_t len, struct acme_order *o, char err[ACME_ERR_MAX]) {
  memset(o, 0, sizeof(*o));
  json_t *j = object_load(body, len, "order", err);
  if (j == NULL)
    return -EPROTO;
  int rc = status_parse(j, &o->status);
  if (rc < 0)
    msg_fail(err, "order: no known \"status\"");
  if (rc == 0)
    rc = order_authz(j, o, err);
  if (rc == 0)
    rc = url_get(j, "finalize", 1, o->finalize, "order", err);
  if (rc == 0)
    rc = url_get(j, "certificate", o->status == ACME_VALID, o->certificate, "order", err);
  json_t *prob = json_object_get(j, "error");
  if (rc == 0 && json_is_object(prob))
    problem_text(prob, o->error);
  json_decref(j);
  return rc;
}

/* The http-01 challenge of an authorization's "challenges", into a. */
static int authz_http01(json_t *j, struct acme_authz *a, char err[ACME_ERR_MAX]) {
  json_t *list = json_object_get(j, "challenges");
  json_t *c;
  size_t i;
  if (!json_is_array(list) || json_array_size(list) > 16)
    return msg_fail(err, "authorization: \"challenges\" must be a list of at most 16");
  json_array_foreach(list, i, c) {
    const char *type = json_string_value(json_object_get(c, "type"));
    if (type == NULL || strcmp(type, "http-01") != 0)
      continue;
    json_t *tok = json_object_get(c, "token");
    if (!json_is_string(tok) || !acme_token_ok(json_string_value(tok), json_string_length(tok)))
      return msg_fail(err,
                      "authorization: the http-01 challenge's token is not base64url of %d to "
                      "%d characters",
                      ACME_TOKEN_MIN, ACME_TOKEN_MAX);
    memcpy(a->token, json_string_value(tok), json_string_length(tok) + 1);
    if (status_parse(c, &a->challenge_status) < 0)
      return msg_fail(err, "authorization: the http-01 challenge has no known \"status\"");
    json_t *prob = json_object_get(c, "error");
    if (json_is_object(prob))
      problem_text(prob, a->error);
    return url_get(c, "url", 1, a->url, "http-01 challenge", err);
  }
  if (a->status == ACME_VALID)
    return 0; /* nothing to answer */
  return msg_fail(err, "authorization for %s: the server offers no http-01 challenge", a->name);
}

int acme_authz_parse(const char *body, size_t len, struct acme_authz *a, char err[ACME_ERR_MAX]) {
  memset(a, 0, sizeof(*a));
  json_t *j = object_load(body, len, "authorization", err);
  if (j == NULL)
    return -EPROTO;
  int rc = -EPROTO;
  json_t *id = json_object_get(j, "identifier");
  const char *type = json_string_value(json_object_get(id, "type"));
  json_t *value = json_object_get(id, "value");
  if (status_parse(j, &a->status) < 0)
    msg_fail(err, "authorization: no known \"status\"");
  else if (type == NULL || strcmp(type, "dns") != 0 || !json_is_string(value) ||
           json_string_length(value) >= ACME_NAME_MAX)
    msg_fail(err, "authorization: the identifier is not a DNS name");
  else if (json_is_true(json_object_get(j, "wildcard")))
    msg_fail(err, "authorization: a wildcard (onair asks for none)");
  else
    rc = 0;
  if (rc == 0) {
    memcpy(a->name, json_string_value(value), json_string_length(value) + 1);
    rc = authz_http01(j, a, err);
  }
  json_decref(j);
  return rc;
}

int acme_problem_parse(const char *body, size_t len, struct acme_problem *p) {
  memset(p, 0, sizeof(*p));
  json_t *j = json_loadb(body, len, ACME_JSON_FLAGS, NULL);
  if (!json_is_object(j)) {
    json_decref(j);
    return -EPROTO;
  }
  json_t *type = json_object_get(j, "type");
  json_t *detail = json_object_get(j, "detail");
  if (json_is_string(type))
    acme_text_copy(p->type, sizeof(p->type), json_string_value(type), json_string_length(type));
  if (json_is_string(detail))
    acme_text_copy(p->detail, sizeof(p->detail), json_string_value(detail),
                   json_string_length(detail));
  json_decref(j);
  return 0;
}

int acme_problem_is(const struct acme_problem *p, const char *name) {
  size_t n = strlen(ACME_PROBLEM_TYPE);
  return strncmp(p->type, ACME_PROBLEM_TYPE, n) == 0 && strcmp(p->type + n, name) == 0;
}
