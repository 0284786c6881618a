/* The little SDP the bench needs: the fields of a server's SDP that ICE and
 * DTLS use (and its transport-wide-cc extmap), a browser-like offer to
 * onair, and a viewer's answer to Janus's offer. */
#include "mb.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void copy_value(char *dst, size_t cap, const char *v, size_t len) {
  if (dst[0] || len >= cap)
    return; /* the first one counts */
  memcpy(dst, v, len);
  dst[len] = '\0';
}

/* a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> */
static void parse_candidate(struct mb_rsdp *r, const char *v) {
  char addr[64], proto[8], typ[16];
  unsigned comp, port;
  unsigned long prio;

  if (r->have_cand ||
      sscanf(v, "%*s %u %7s %lu %63s %u typ %15s", &comp, proto, &prio, addr, &port, typ) != 6)
    return;
  if (comp != 1 || strcasecmp(proto, "udp") != 0 || strcmp(typ, "host") != 0 ||
      inet_pton(AF_INET, addr, &r->cand.sin_addr) != 1)
    return;
  r->cand.sin_family = AF_INET;
  r->cand.sin_port = htons((uint16_t)port);
  r->have_cand = 1;
}

/* a=extmap:<id>[/<direction>] <uri>: the transport-wide sequence number's
 * id on the current m-line, when it fits the one-byte form (1..14), which
 * is the one the viewers read. */
static void parse_extmap(struct mb_rsdp *r, const char *v) {
  const char *uri = strchr(v, ' ');
  char *end;
  long id = strtol(v, &end, 10);

  if (end == v || (*end != ' ' && *end != '/') || !uri || strcmp(uri + 1, MB_TWCC_URI) != 0 ||
      id < 1 || id > 14 || r->m[r->nm - 1].twcc_id)
    return;
  r->m[r->nm - 1].twcc_id = (int)id;
  if (!r->twcc_id)
    r->twcc_id = (int)id; /* BUNDLE: one id for the transport (RFC 8843 9.2) */
}

static void parse_line(struct mb_rsdp *r, const char *l, size_t n) {
  char line[512];
  int pt;

  if (n >= sizeof(line))
    return;
  memcpy(line, l, n);
  line[n] = '\0';
  if (strncmp(line, "m=", 2) == 0 && r->nm < 4) {
    r->m[r->nm].video = strncmp(line, "m=video", 7) == 0;
    r->m[r->nm].pt = -1;
    r->nm++;
  } else if (strncmp(line, "a=ice-ufrag:", 12) == 0) {
    copy_value(r->ufrag, sizeof(r->ufrag), line + 12, n - 12);
  } else if (strncmp(line, "a=ice-pwd:", 10) == 0) {
    copy_value(r->pwd, sizeof(r->pwd), line + 10, n - 10);
  } else if (strncmp(line, "a=fingerprint:sha-256 ", 22) == 0) {
    copy_value(r->fp, sizeof(r->fp), line + 22, n - 22);
  } else if (strncmp(line, "a=candidate:", 12) == 0) {
    parse_candidate(r, line + 12);
  } else if (r->nm && strncmp(line, "a=extmap:", 9) == 0) {
    parse_extmap(r, line + 9);
  } else if (r->nm && strncmp(line, "a=mid:", 6) == 0) {
    copy_value(r->m[r->nm - 1].mid, sizeof(r->m[0].mid), line + 6, n - 6);
  } else if (r->nm && r->m[r->nm - 1].pt < 0 && sscanf(line, "a=rtpmap:%d ", &pt) == 1) {
    const char *codec = strchr(line, ' ');
    int video = r->m[r->nm - 1].video;
    if (codec && strncasecmp(codec + 1, video ? "VP8/" : "opus/", video ? 4 : 5) == 0)
      r->m[r->nm - 1].pt = pt;
  }
}

int mb_sdp_parse(const char *sdp, struct mb_rsdp *r) {
  const char *p = sdp;

  memset(r, 0, sizeof(*r));
  while (*p) {
    size_t n = strcspn(p, "\r\n");
    parse_line(r, p, n);
    p += n;
    while (*p == '\r' || *p == '\n')
      p++;
  }
  if (!r->ufrag[0] || !r->pwd[0] || !r->fp[0] || r->nm == 0)
    return -1;
  return 0;
}

static int put(char *out, size_t cap, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char *out, size_t cap, size_t *o, const char *fmt, ...) {
  va_list ap;
  int n;

  if (*o >= cap)
    return -1;
  va_start(ap, fmt);
  n = vsnprintf(out + *o, cap - *o, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap - *o) {
    *o = cap;
    return -1;
  }
  *o += (size_t)n;
  return 0;
}

static void put_transport(char *out, size_t cap, size_t *o, const struct mb_conn *c,
                          const struct mb_dtls *d, const char *setup) {
  put(out, cap, o,
      "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
      "a=fingerprint:sha-256 %s\r\na=setup:%s\r\n",
      c->lufrag, c->lpwd, d->fingerprint, setup);
}

/* The transport-wide sequence number extension and its feedback on the
 * codec pt, as Chrome offers them on each m-line. */
static void put_twcc(char *out, size_t cap, size_t *o, int id, int pt) {
  put(out, cap, o, "a=extmap:%d %s\r\na=rtcp-fb:%d transport-cc\r\n", id, MB_TWCC_URI, pt);
}

/* An offer's session lines and its audio m-line up to the transport. */
static void put_head(char *out, size_t cap, size_t *o, const struct mb_conn *c,
                     const struct mb_dtls *d) {
  uint32_t id;
  mb_rand(&id, sizeof(id));
  put(out, cap, o, "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n",
      id);
  put(out, cap, o, "m=audio 9 UDP/TLS/RTP/SAVPF %d\r\n", MB_PT_OPUS);
  put_transport(out, cap, o, c, d, "actpass");
}

int mb_sdp_offer(char *out, size_t cap, const struct mb_conn *c, const struct mb_dtls *d,
                 int publisher, uint32_t ssrc_a, uint32_t ssrc_v, int twcc) {
  const char *dir = publisher ? "sendonly" : "recvonly";
  size_t o = 0;

  put_head(out, cap, &o, c, d);
  put(out, cap, &o,
      "a=mid:0\r\na=%s\r\na=rtcp-mux\r\na=rtpmap:%d opus/48000/2\r\n"
      "a=fmtp:%d minptime=10;useinbandfec=1\r\n",
      dir, MB_PT_OPUS, MB_PT_OPUS);
  if (twcc)
    put_twcc(out, cap, &o, MB_TWCC_ID, MB_PT_OPUS);
  if (publisher)
    put(out, cap, &o, "a=ssrc:%u cname:onair-media-bench\r\n", ssrc_a);
  /* A viewer offers RTX for VP8, as Chrome does: onair (since c7b3dda)
   * sends an Auto viewer's probes as padding on it, and without it a
   * viewer on a low layer could never show that its link carries more. */
  if (publisher)
    put(out, cap, &o, "m=video 9 UDP/TLS/RTP/SAVPF %d\r\n", MB_PT_VP8);
  else
    put(out, cap, &o, "m=video 9 UDP/TLS/RTP/SAVPF %d %d\r\n", MB_PT_VP8, MB_PT_RTX);
  put_transport(out, cap, &o, c, d, "actpass");
  put(out, cap, &o,
      "a=mid:1\r\na=%s\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:%d VP8/90000\r\n"
      "a=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\na=rtcp-fb:%d ccm fir\r\n",
      dir, MB_PT_VP8, MB_PT_VP8, MB_PT_VP8, MB_PT_VP8);
  if (!publisher)
    put(out, cap, &o, "a=rtpmap:%d rtx/90000\r\na=fmtp:%d apt=%d\r\n", MB_PT_RTX, MB_PT_RTX,
        MB_PT_VP8);
  if (twcc)
    put_twcc(out, cap, &o, MB_TWCC_ID, MB_PT_VP8);
  if (publisher)
    put(out, cap, &o, "a=ssrc:%u cname:onair-media-bench\r\n", ssrc_v);
  return o < cap ? 0 : -1;
}

int mb_sdp_answer(char *out, size_t cap, const struct mb_rsdp *offer, const struct mb_conn *c,
                  const struct mb_dtls *d, const struct sockaddr_in *local, int twcc) {
  char ip[INET_ADDRSTRLEN];
  uint32_t id;
  size_t o = 0;
  unsigned i;

  mb_rand(&id, sizeof(id));
  inet_ntop(AF_INET, &local->sin_addr, ip, sizeof(ip));
  put(out, cap, &o, "v=0\r\no=- %u 2 IN IP4 %s\r\ns=-\r\nt=0 0\r\na=ice-lite\r\na=group:BUNDLE", id,
      ip);
  for (i = 0; i < offer->nm; i++)
    put(out, cap, &o, " %s", offer->m[i].mid);
  put(out, cap, &o, "\r\n");
  for (i = 0; i < offer->nm; i++) {
    int pt = offer->m[i].pt;
    put(out, cap, &o, "m=%s 9 UDP/TLS/RTP/SAVPF %d\r\n", offer->m[i].video ? "video" : "audio", pt);
    put_transport(out, cap, &o, c, d, "active");
    put(out, cap, &o, "a=mid:%s\r\na=recvonly\r\na=rtcp-mux\r\n", offer->m[i].mid);
    if (offer->m[i].video)
      put(out, cap, &o, "a=rtpmap:%d VP8/90000\r\na=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\n",
          pt, pt, pt);
    else
      put(out, cap, &o, "a=rtpmap:%d opus/48000/2\r\n", pt);
    if (twcc && offer->m[i].twcc_id)
      put_twcc(out, cap, &o, offer->m[i].twcc_id, pt);
    if (i == 0)
      put(out, cap, &o, "a=candidate:1 1 udp 2130706431 %s %u typ host\r\na=end-of-candidates\r\n",
          ip, ntohs(local->sin_port));
  }
  return o < cap ? 0 : -1;
}

/* Chromium's offer for a camera sent as three sendEncodings (rids l, m, h,
 * lowest first, as web/assets/media.js asks): on both m-lines the
 * transport-wide sequence number (id 3) and MID (id 4) extensions, on the
 * video the RID and repaired RID ones (10, 11), rtcp-fb transport-cc, the
 * rids and a=simulcast. With rids Chromium writes no a=ssrc for the video:
 * onair learns each layer's SSRC from the RID its first packets carry. */
int mb_sdp_offer_simulcast(char *out, size_t cap, const struct mb_conn *c, const struct mb_dtls *d,
                           uint32_t ssrc_a) {
  size_t o = 0;

  put_head(out, cap, &o, c, d);
  put(out, cap, &o,
      "a=mid:0\r\na=extmap:%d %s\r\na=extmap:%d urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
      "a=sendonly\r\na=rtcp-mux\r\na=rtpmap:%d opus/48000/2\r\na=rtcp-fb:%d transport-cc\r\n"
      "a=fmtp:%d minptime=10;useinbandfec=1\r\na=ssrc:%u cname:onair-media-bench\r\n",
      MB_TWCC_ID, MB_TWCC_URI, MB_MID_ID, MB_PT_OPUS, MB_PT_OPUS, MB_PT_OPUS, ssrc_a);
  put(out, cap, &o, "m=video 9 UDP/TLS/RTP/SAVPF %d\r\n", MB_PT_VP8);
  put_transport(out, cap, &o, c, d, "actpass");
  put(out, cap, &o,
      "a=mid:1\r\na=extmap:%d %s\r\na=extmap:%d urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
      "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"
      "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"
      "a=sendonly\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:%d VP8/90000\r\n"
      "a=rtcp-fb:%d transport-cc\r\na=rtcp-fb:%d ccm fir\r\na=rtcp-fb:%d nack\r\n"
      "a=rtcp-fb:%d nack pli\r\n",
      MB_TWCC_ID, MB_TWCC_URI, MB_MID_ID, MB_RID_ID, MB_RID_ID + 1, MB_PT_VP8, MB_PT_VP8, MB_PT_VP8,
      MB_PT_VP8, MB_PT_VP8);
  put(out, cap, &o, "a=rid:l send\r\na=rid:m send\r\na=rid:h send\r\na=simulcast:send l;m;h\r\n");
  return o < cap ? 0 : -1;
}
