/* RFC 6455 framing: the client-to-server frame parser, the server frame
 * header builder, close payloads and the handshake accept key.
 *
 * The parser is a byte-exact state machine: header bytes are collected into
 * p->hdr one at a time (so a header split anywhere resumes cleanly) and
 * checked as soon as the bytes that decide each rule have arrived; payload
 * bytes are unmasked straight into their destination (p->ctl for control
 * frames, the reassembly buffer p->msg for data frames). Text is validated
 * as it is unmasked, so a bad byte fails before the rest of the message
 * arrives. */
#include "ws/ws_frame.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

enum {
  WS_ST_HDR,     /* collecting header bytes into p->hdr */
  WS_ST_PAYLOAD, /* unmasking payload bytes */
  WS_ST_CLOSED,  /* a close frame was returned; later input is discarded */
  WS_ST_FAILED,  /* a protocol error was returned; it is returned again */
};

/* First allocation of the reassembly buffer, in bytes; it then doubles. */
#define WS_MSG_MIN_CAP 1024

/* Internal step results: no event yet, one event in *ev, or an error. */
#define WS_STEP_NONE 0
#define WS_STEP_EVENT 1
#define WS_STEP_ERROR (-1)

static const uint8_t ws_empty[1];

static int ws_is_control(int opcode) { return (opcode & 0x8) != 0; }

/* Puts the parser into the failed state and fills *ev. Always returns
 * WS_STEP_ERROR so callers can `return ws_fail(...)`. */
static int ws_fail(struct ws_parser *p, struct ws_event *ev, uint16_t code, const char *why) {
  p->state = WS_ST_FAILED;
  p->err_code = code;
  p->err = why;
  ev->close_code = code;
  ev->error = why;
  ev->payload = ws_empty;
  ev->len = 0;
  return WS_STEP_ERROR;
}

/* Bytes of extended payload length announced by the second header byte. */
static size_t ws_ext_len(uint8_t b1) {
  b1 &= 0x7F;
  if (b1 == 126)
    return 2;
  if (b1 == 127)
    return 8;
  return 0;
}

/* RFC 6455 7.4: codes a peer may put in a close frame. 1004-1006 and 1015
 * are reserved, 1012-2999 are unassigned for this protocol, 5000+ do not
 * exist. */
static int ws_close_code_valid(uint16_t code) {
  if (code >= 1000 && code <= 1003)
    return 1;
  if (code >= 1007 && code <= 1011)
    return 1;
  return code >= 3000 && code <= 4999;
}

/* Checks the first header byte: reserved bits, opcode and the fragmentation
 * sequence. */
static int ws_check_b0(struct ws_parser *p, struct ws_event *ev) {
  uint8_t b0 = p->hdr[0];

  p->fin = b0 >> 7;
  p->opcode = b0 & 0x0F;
  if (b0 & 0x70)
    return ws_fail(p, ev, WS_CLOSE_PROTOCOL, "reserved bit set");
  switch (p->opcode) {
  case WS_OP_CONT:
    if (p->msg_opcode == 0)
      return ws_fail(p, ev, WS_CLOSE_PROTOCOL, "continuation frame without a started message");
    return WS_STEP_NONE;
  case WS_OP_TEXT:
  case WS_OP_BINARY:
    if (p->msg_opcode != 0)
      return ws_fail(p, ev, WS_CLOSE_PROTOCOL, "new data frame inside a fragmented message");
    return WS_STEP_NONE;
  case WS_OP_CLOSE:
  case WS_OP_PING:
  case WS_OP_PONG:
    if (!p->fin)
      return ws_fail(p, ev, WS_CLOSE_PROTOCOL, "fragmented control frame");
    return WS_STEP_NONE;
  default: return ws_fail(p, ev, WS_CLOSE_PROTOCOL, "reserved opcode");
  }
}

/* Checks the second header byte: the mask bit and the control frame length,
 * and sets how long the whole header is. */
static int ws_check_b1(struct ws_parser *p, struct ws_event *ev) {
  uint8_t b1 = p->hdr[1];

  if (!(b1 & 0x80))
    return ws_fail(p, ev, WS_CLOSE_PROTOCOL, "client frame not masked");
  if (ws_is_control(p->opcode) && (b1 & 0x7F) > 125)
    return ws_fail(p, ev, WS_CLOSE_PROTOCOL, "control frame longer than 125 bytes");
  p->hdr_need = 2 + ws_ext_len(b1) + 4;
  return WS_STEP_NONE;
}

/* Decodes the payload length once its bytes are in, and applies the 64-bit
 * top-bit rule and the message cap before any payload arrives. */
static int ws_check_len(struct ws_parser *p, struct ws_event *ev) {
  size_t ext = ws_ext_len(p->hdr[1]), i;
  uint64_t n = p->hdr[1] & 0x7F;

  if (ext > 0) {
    n = 0;
    for (i = 0; i < ext; i++)
      n = (n << 8) | p->hdr[2 + i];
  }
  if (n >> 63)
    return ws_fail(p, ev, WS_CLOSE_PROTOCOL, "64-bit payload length with the top bit set");
  p->payload_len = n;
  if (!ws_is_control(p->opcode)) {
    assert(p->msg_len <= p->max_message);
    if (n > (uint64_t)(p->max_message - p->msg_len))
      return ws_fail(p, ev, WS_CLOSE_TOO_BIG, "message too big");
  }
  return WS_STEP_NONE;
}

/* Makes room for need bytes in the reassembly buffer, doubling its capacity
 * up to max_message. The buffer is kept for later messages. */
static int ws_msg_reserve(struct ws_parser *p, size_t need) {
  size_t cap;
  uint8_t *m;

  if (need <= p->msg_cap)
    return 0;
  assert(need <= p->max_message);
  cap = p->msg_cap > WS_MSG_MIN_CAP ? p->msg_cap : WS_MSG_MIN_CAP;
  while (cap < need) {
    if (cap > p->max_message / 2) {
      cap = p->max_message;
      break;
    }
    cap *= 2;
  }
  if (cap > p->max_message)
    cap = p->max_message;
  m = realloc(p->msg, cap);
  if (!m)
    return -ENOMEM;
  p->msg = m;
  p->msg_cap = cap;
  return 0;
}

/* Validates a complete close frame in p->ctl and turns it into an event. */
static int ws_close_event(struct ws_parser *p, struct ws_event *ev) {
  uint16_t code;

  if (p->ctl_len == 1)
    return ws_fail(p, ev, WS_CLOSE_PROTOCOL, "close frame of 1 byte");
  ev->kind = WS_EV_CLOSE;
  if (p->ctl_len == 0) {
    ev->close_code = 1005; /* no status code was present */
    ev->payload = p->ctl;
    ev->len = 0;
    p->state = WS_ST_CLOSED;
    return WS_STEP_EVENT;
  }
  code = (uint16_t)(p->ctl[0] << 8 | p->ctl[1]);
  if (!ws_close_code_valid(code))
    return ws_fail(p, ev, WS_CLOSE_PROTOCOL, "invalid close code");
  if (utf8_valid(p->ctl + 2, p->ctl_len - 2, NULL) < 0)
    return ws_fail(p, ev, WS_CLOSE_INVALID_DATA, "close reason is not UTF-8");
  ev->close_code = code;
  ev->payload = p->ctl + 2;
  ev->len = p->ctl_len - 2;
  p->state = WS_ST_CLOSED;
  return WS_STEP_EVENT;
}

/* Called when the current frame's payload is complete. Returns an event for
 * a control frame or for the final frame of a data message. */
static int ws_frame_end(struct ws_parser *p, struct ws_event *ev) {
  p->state = WS_ST_HDR;
  p->hdr_len = 0;
  p->hdr_need = 2;
  switch (p->opcode) {
  case WS_OP_CLOSE: return ws_close_event(p, ev);
  case WS_OP_PING:
  case WS_OP_PONG:
    ev->kind = p->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
    ev->payload = p->ctl;
    ev->len = p->ctl_len;
    return WS_STEP_EVENT;
  default: break;
  }
  if (!p->fin)
    return WS_STEP_NONE;
  if (p->msg_opcode == WS_OP_TEXT && utf8_finish(&p->utf8) < 0)
    return ws_fail(p, ev, WS_CLOSE_INVALID_DATA, "text message ends inside a UTF-8 sequence");
  ev->kind = p->msg_opcode == WS_OP_TEXT ? WS_EV_TEXT : WS_EV_BINARY;
  ev->payload = p->msg ? p->msg : ws_empty;
  ev->len = p->msg_len;
  p->msg_len = 0;
  p->msg_opcode = 0;
  return WS_STEP_EVENT;
}

/* The header is complete: takes the mask and starts the payload. */
static int ws_frame_start(struct ws_parser *p, struct ws_event *ev) {
  memcpy(p->mask, p->hdr + p->hdr_len - 4, 4);
  p->payload_done = 0;
  if (ws_is_control(p->opcode)) {
    p->ctl_len = 0;
  } else if (p->opcode != WS_OP_CONT) {
    assert(p->msg_len == 0);
    p->msg_opcode = p->opcode;
    utf8_init(&p->utf8);
  }
  p->state = WS_ST_PAYLOAD;
  if (p->payload_len == 0)
    return ws_frame_end(p, ev);
  return WS_STEP_NONE;
}

/* Takes header bytes from data until the header is complete, checking each
 * rule as soon as its bytes are in. Sets *used. */
static int ws_take_header(struct ws_parser *p, const uint8_t *data, size_t len, size_t *used,
                          struct ws_event *ev) {
  size_t i = 0;
  int rc = WS_STEP_NONE;

  while (i < len && rc == WS_STEP_NONE) {
    assert(p->hdr_len < p->hdr_need && p->hdr_need <= sizeof(p->hdr));
    p->hdr[p->hdr_len++] = data[i++];
    if (p->hdr_len == 1)
      rc = ws_check_b0(p, ev);
    else if (p->hdr_len == 2)
      rc = ws_check_b1(p, ev);
    if (rc == WS_STEP_NONE && p->hdr_len >= 2 && p->hdr_len == 2 + ws_ext_len(p->hdr[1]))
      rc = ws_check_len(p, ev);
    if (rc == WS_STEP_NONE && p->hdr_len == p->hdr_need)
      rc = ws_frame_start(p, ev);
    if (p->state != WS_ST_HDR)
      break;
  }
  *used = i;
  return rc;
}

/* Unmasks payload bytes into the control buffer or the reassembly buffer,
 * validating text as it goes. Sets *used. */
static int ws_take_payload(struct ws_parser *p, const uint8_t *data, size_t len, size_t *used,
                           struct ws_event *ev) {
  uint64_t left = p->payload_len - p->payload_done;
  size_t n = len < left ? len : (size_t)left, i;
  uint8_t *dst;

  *used = n;
  if (ws_is_control(p->opcode)) {
    assert(p->ctl_len + n <= sizeof(p->ctl));
    dst = p->ctl + p->ctl_len;
    p->ctl_len += n;
  } else {
    if (ws_msg_reserve(p, p->msg_len + n) < 0)
      return ws_fail(p, ev, WS_CLOSE_INTERNAL, "out of memory");
    dst = p->msg + p->msg_len;
    p->msg_len += n;
  }
  for (i = 0; i < n; i++)
    dst[i] = data[i] ^ p->mask[(p->payload_done + i) & 3];
  p->payload_done += n;
  if (!ws_is_control(p->opcode) && p->msg_opcode == WS_OP_TEXT && utf8_feed(&p->utf8, dst, n) < 0)
    return ws_fail(p, ev, WS_CLOSE_INVALID_DATA, "text is not UTF-8");
  if (p->payload_done == p->payload_len)
    return ws_frame_end(p, ev);
  return WS_STEP_NONE;
}

void ws_parser_init(struct ws_parser *p, size_t max_message) {
  memset(p, 0, sizeof(*p));
  p->max_message = max_message;
  p->state = WS_ST_HDR;
  p->hdr_need = 2;
  utf8_init(&p->utf8);
}

void ws_parser_free(struct ws_parser *p) {
  free(p->msg);
  p->msg = NULL;
  p->msg_len = 0;
  p->msg_cap = 0;
}

void ws_parser_trim(struct ws_parser *p) {
  if (p->msg_len == 0 && p->msg_opcode == 0)
    ws_parser_free(p);
}

int ws_parser_feed(struct ws_parser *p, const uint8_t *data, size_t len, size_t *consumed,
                   struct ws_event *ev) {
  size_t off = 0, used;
  int rc = WS_STEP_NONE;

  ev->payload = ws_empty;
  ev->len = 0;
  ev->close_code = 0;
  ev->error = NULL;
  if (p->state == WS_ST_FAILED) {
    *consumed = 0;
    ev->close_code = p->err_code;
    ev->error = p->err;
    return WS_ERROR;
  }
  if (p->state == WS_ST_CLOSED) {
    *consumed = len;
    return WS_AGAIN;
  }
  while (off < len && rc == WS_STEP_NONE) {
    if (p->state == WS_ST_HDR)
      rc = ws_take_header(p, data + off, len - off, &used, ev);
    else
      rc = ws_take_payload(p, data + off, len - off, &used, ev);
    off += used;
  }
  *consumed = off;
  if (rc == WS_STEP_ERROR)
    return WS_ERROR;
  return rc == WS_STEP_EVENT ? WS_EVENT : WS_AGAIN;
}

size_t ws_frame_header(uint8_t out[10], enum ws_opcode opcode, uint64_t payload_len) {
  size_t i;

  assert((payload_len >> 63) == 0);
  out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
  if (payload_len < 126) {
    out[1] = (uint8_t)payload_len;
    return 2;
  }
  if (payload_len <= 0xFFFF) {
    out[1] = 126;
    out[2] = (uint8_t)(payload_len >> 8);
    out[3] = (uint8_t)payload_len;
    return 4;
  }
  out[1] = 127;
  for (i = 0; i < 8; i++)
    out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
  return 10;
}

size_t ws_close_payload(uint8_t out[125], uint16_t code, const char *reason) {
  size_t n = 0;

  if (code == 0)
    return 0;
  out[0] = (uint8_t)(code >> 8);
  out[1] = (uint8_t)code;
  if (reason) {
    n = strnlen(reason, 124);
    if (n > 123) {
      /* Cut before the character that straddles byte 123 so that the
       * reason stays UTF-8 (the peer fails the connection otherwise). */
      n = 123;
      while (n > 0 && ((uint8_t)reason[n] & 0xC0) == 0x80)
        n--;
    }
    memcpy(out + 2, reason, n);
  }
  return 2 + n;
}

static int ws_is_base64(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

int ws_accept_key(const char *key, size_t key_len, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  uint8_t buf[24 + sizeof(guid) - 1];
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  size_t i;

  /* 16 bytes encode to 22 base64 characters and "==". */
  if (!key || key_len != 24)
    return -EINVAL;
  for (i = 0; i < 22; i++)
    if (!ws_is_base64((uint8_t)key[i]))
      return -EINVAL;
  if (key[22] != '=' || key[23] != '=')
    return -EINVAL;
  memcpy(buf, key, 24);
  memcpy(buf + 24, guid, sizeof(guid) - 1);
  if (EVP_Digest(buf, sizeof(buf), md, &md_len, EVP_sha1(), NULL) != 1 || md_len != 20)
    return -EIO;
  /* 20 bytes encode to 28 characters; EVP_EncodeBlock adds the NUL. */
  EVP_EncodeBlock((unsigned char *)out, md, 20);
  return 0;
}
