/* RFC 6455 framing: a resumable parser for client-to-server frames and a
 * header builder for server-to-client frames. Pure: no I/O, no libuv. */
#ifndef ONAIR_WS_FRAME_H
#define ONAIR_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "ws/utf8.h"

enum ws_opcode {
  WS_OP_CONT = 0x0,
  WS_OP_TEXT = 0x1,
  WS_OP_BINARY = 0x2,
  WS_OP_CLOSE = 0x8,
  WS_OP_PING = 0x9,
  WS_OP_PONG = 0xA,
};

/* Close codes onair sends (RFC 6455 section 7.4.1). */
enum ws_close_code {
  WS_CLOSE_NORMAL = 1000,
  WS_CLOSE_GOING_AWAY = 1001,
  WS_CLOSE_PROTOCOL = 1002,
  WS_CLOSE_UNSUPPORTED = 1003,
  WS_CLOSE_INVALID_DATA = 1007, /* text that is not UTF-8 */
  WS_CLOSE_POLICY = 1008,
  WS_CLOSE_TOO_BIG = 1009,
  WS_CLOSE_INTERNAL = 1011,
  WS_CLOSE_RESTART = 1012, /* Service Restart (IANA registry): come back soon */
};

/* Results of ws_parser_feed(). Errors are negative: the caller closes the
 * connection with ev->close_code (set on every error). */
enum ws_result {
  WS_AGAIN = 0, /* all input consumed, no complete event yet */
  WS_EVENT = 1, /* *ev holds one event; call again with the rest */
  WS_ERROR = -1,
};

enum ws_event_kind {
  WS_EV_TEXT,   /* a whole (reassembled) text message, valid UTF-8 */
  WS_EV_BINARY, /* a whole (reassembled) binary message */
  WS_EV_PING,   /* payload: the ping's application data (<= 125 bytes) */
  WS_EV_PONG,
  WS_EV_CLOSE, /* close_code (1005 if none was sent), payload = reason */
};

struct ws_event {
  enum ws_event_kind kind;
  const uint8_t *payload; /* valid until the next ws_parser_feed() call */
  size_t len;
  uint16_t close_code; /* for WS_EV_CLOSE, and for the code to send on error */
  const char *error;   /* static text naming the violation, on error */
};

/* Parser state. Initialise with ws_parser_init(), free with ws_parser_free().
 * Frames from a client must be masked; control frames must be final and at
 * most 125 bytes; reserved bits and opcodes are errors; a continuation without
 * a started message, or a new data frame inside one, is an error; 64-bit
 * lengths with the top bit set are an error. A message (all fragments) larger
 * than max_message fails with 1009 as soon as the header announces it. Text is
 * validated incrementally (1007 on the first bad byte, and at the end for a
 * truncated sequence). */
struct ws_parser {
  size_t max_message; /* bytes; cap on one reassembled message */
  /* private below */
  int state;
  uint8_t hdr[14];
  size_t hdr_len, hdr_need;
  int fin, opcode, msg_opcode;
  uint8_t mask[4];
  uint64_t payload_len, payload_done;
  uint8_t *msg; /* reassembly buffer, grows up to max_message */
  size_t msg_len, msg_cap;
  uint8_t ctl[125]; /* control frame payload (may interleave fragments) */
  size_t ctl_len;
  struct utf8_state utf8;
  uint16_t err_code; /* close code of the error, once state is failed */
  const char *err;   /* static text of the error, once state is failed */
};

void ws_parser_init(struct ws_parser *p, size_t max_message);
void ws_parser_free(struct ws_parser *p);
/* Frees the reassembly buffer when no message is under way (an idle
 * connection then holds none); the last event's payload goes with it. */
void ws_parser_trim(struct ws_parser *p);

/* Feeds bytes. Sets *consumed to how many of data[0..len) were used; call
 * again with the remainder after every WS_EVENT. Never reads past len.
 * An error is sticky: later calls return WS_ERROR again (consuming nothing).
 * After WS_EV_CLOSE the peer may send nothing more: later input is consumed
 * and discarded (WS_AGAIN). */
int ws_parser_feed(struct ws_parser *p, const uint8_t *data, size_t len, size_t *consumed,
                   struct ws_event *ev);

/* Writes an unmasked server frame header for a final frame of opcode and
 * payload_len into out (at most 10 bytes); returns the header length. */
size_t ws_frame_header(uint8_t out[10], enum ws_opcode opcode, uint64_t payload_len);

/* Builds a close frame payload: code in network order then reason (truncated
 * to fit 123 bytes, at a UTF-8 character boundary). Returns its length.
 * code 0 means "no status code" (the reply to a close that carried 1005):
 * nothing is written and 0 is returned. */
size_t ws_close_payload(uint8_t out[125], uint16_t code, const char *reason);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
 * out gets 28 characters and a NUL. Returns 0, or -EINVAL when key is not 24
 * base64 characters decoding to 16 bytes (22 of A-Z a-z 0-9 + / then "==";
 * surrounding whitespace is the caller's to trim), or -EIO if OpenSSL fails. */
int ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
