/* What an ACME server (RFC 8555) sends, checked before anything uses it:
 * the directory, orders, authorizations with their HTTP-01 challenge, and
 * problem documents. Everything here is untrusted: every URL must be
 * https and fit ACME_URL_MAX, every token be base64url of a sane length,
 * every list fit its array; what does not is an error with a reason in
 * err (ACME_ERR_MAX bytes, control characters replaced), never a crash.
 * Also the checks of the settings the client is given (names, e-mail,
 * directory URL). Pure functions: no I/O. */
#ifndef ONAIR_ACME_MSG_H
#define ONAIR_ACME_MSG_H

#include <stddef.h>

#define ACME_ERR_MAX 256   /* bytes of an error message, NUL included */
#define ACME_URL_MAX 1024  /* bytes of a URL, NUL included */
#define ACME_NAMES_MAX 8   /* names in one certificate */
#define ACME_NAME_MAX 254  /* bytes of a DNS name (253) and its NUL */
#define ACME_TOKEN_MIN 16  /* characters of a challenge token */
#define ACME_TOKEN_MAX 128 /* characters of a challenge token */
#define ACME_PROBLEM_TYPE "urn:ietf:params:acme:error:"

/* The DNS names of one certificate, lower case, without duplicates. */
struct acme_names {
  char name[ACME_NAMES_MAX][ACME_NAME_MAX];
  size_t n;
};

/* Parses "a.example, b.example c.example" (commas or spaces): 0 to
 * ACME_NAMES_MAX names, each of letters, digits and hyphens in dot-separated
 * labels of 1 to 63 characters, not ending in a numeric label (an IP
 * address), no wildcard. Returns 0 or -EINVAL. */
int acme_names_parse(const char *list, struct acme_names *out);
/* 1 if s looks like an e-mail address a CA takes as contact:
 * local@domain, the local part printable ASCII without space or
 * <>()[],;:"\, the domain a DNS name with a dot. */
int acme_email_ok(const char *s);
/* 1 if s is an https URL with a host, shorter than ACME_URL_MAX, without
 * spaces, control characters, quotes or backslashes. */
int acme_url_ok(const char *s);
/* 1 if s (len bytes) is a challenge token: ACME_TOKEN_MIN to ACME_TOKEN_MAX
 * base64url characters. */
/* 1 if all len bytes of s are base64url characters (A-Z a-z 0-9 - _). */
int acme_b64url_chars(const char *s, size_t len);
int acme_token_ok(const char *s, size_t len);

/* The status of an order, authorization or challenge. */
enum acme_status {
  ACME_PENDING,
  ACME_READY,
  ACME_PROCESSING,
  ACME_VALID,
  ACME_INVALID,
  ACME_GONE, /* deactivated, expired or revoked */
};
const char *acme_status_name(enum acme_status s);

/* RFC 8555 7.1.1. */
struct acme_directory {
  char new_nonce[ACME_URL_MAX];
  char new_account[ACME_URL_MAX];
  char new_order[ACME_URL_MAX];
  char terms[ACME_URL_MAX]; /* meta.termsOfService (any scheme, for the log), "" if none */
};

/* RFC 8555 7.1.3. */
struct acme_order {
  enum acme_status status;
  char finalize[ACME_URL_MAX];
  char certificate[ACME_URL_MAX]; /* "" until the order is valid */
  char authz[ACME_NAMES_MAX][ACME_URL_MAX];
  size_t nauthz;
  char error[ACME_ERR_MAX]; /* the order's problem, "" if none */
};

/* RFC 8555 7.1.4, with its http-01 challenge (8.3). */
struct acme_authz {
  enum acme_status status;
  char name[ACME_NAME_MAX]; /* identifier.value */
  char url[ACME_URL_MAX];   /* the http-01 challenge's; "" when the authorization
                               is valid and offered none */
  char token[ACME_TOKEN_MAX + 1];
  enum acme_status challenge_status;
  char error[ACME_ERR_MAX]; /* the challenge's problem, "" if none */
};

/* RFC 8555 6.7 (RFC 7807). */
struct acme_problem {
  char type[128]; /* e.g. urn:ietf:params:acme:error:badNonce; "" if none */
  char detail[ACME_ERR_MAX];
};

/* Each parses one JSON response body of len bytes. Returns 0, or -EPROTO
 * with the reason in err. */
int acme_directory_parse(const char *body, size_t len, struct acme_directory *d,
                         char err[ACME_ERR_MAX]);
int acme_order_parse(const char *body, size_t len, struct acme_order *o, char err[ACME_ERR_MAX]);
int acme_authz_parse(const char *body, size_t len, struct acme_authz *a, char err[ACME_ERR_MAX]);
/* 0 if body is a problem document (a JSON object); -EPROTO if not. */
int acme_problem_parse(const char *body, size_t len, struct acme_problem *p);
/* 1 if p's type is ACME_PROBLEM_TYPE + name ("badNonce"). */
int acme_problem_is(const struct acme_problem *p, const char *name);

/* Copies at most size - 1 bytes of src (len bytes) into dst for a log line,
 * control characters and non-ASCII bytes replaced by '?'. */
void acme_text_copy(char *dst, size_t size, const char *src, size_t len);

#endif
