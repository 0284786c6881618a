/* SRTP cost: what protecting and unprotecting one packet costs with onair's
 * srtpctx (src/media/srtpctx.c, OpenSSL 3) against libsrtp2 (Debian's 2.5,
 * built on NSS: what onair used before), for 200-byte (audio) and
 * 1,100-byte (video) RTP packets, both DTLS-SRTP profiles; with the bare
 * EVP AES-128-GCM seal of the same bytes as the floor, and the two OpenSSL
 * HMAC-SHA1 interfaces srtpctx.c chose between. Build and run with
 * bench/run-srtp.sh (bench/README.md, "SRTP cost").
 *
 *   srtp-cost [RESULTS.md]
 *
 * prints ns per packet and the ratios; with a path, also appends them there
 * as a dated section with the machine's description. Every figure is the
 * median of REPS runs of PKTS packets, each packet new (its own sequence
 * number, every run on fresh contexts), and includes copying the packet
 * into place (the same copy for every row). */
#define OPENSSL_API_COMPAT 0x10100000L /* HMAC_CTX, measured below */

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "media/srtpctx.h"
#include "../tests/srtp_ref.h"

#define PKTS 20000 /* packets a run */
#define SET 1000   /* packets protected once for the unprotect runs */
#define ROUNDS (PKTS / SET)
#define REPS 7    /* runs a figure; the median is shown */
#define SLOT 1280 /* bytes a packet's slot */
#define NSIZES 2

static const size_t sizes[NSIZES] = {200, 1100};

static void die(const char *what) {
  fprintf(stderr, "srtp-cost: %s failed\n", what);
  exit(1);
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return v[n / 2];
}

/* An RTP packet of len bytes (12 of header), sequence number seq. */
static void rtp_fill(uint8_t *p, size_t len, uint16_t seq) {
  static const uint8_t hdr[12] = {0x80, 96, 0, 0, 0, 0, 0x10, 0, 0xCA, 0xFE, 0xBA, 0xBE};
  memcpy(p, hdr, sizeof(hdr));
  for (size_t i = 12; i < len; i++)
    p[i] = (uint8_t)(i * 7);
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
}

/* ---- the two implementations behind one interface ---- */

struct impl {
  const char *name;
  void *(*open)(const struct dtls_srtp_keys *k); /* k's local keys send, remote keys receive */
  int (*protect)(void *c, uint8_t *p, size_t *len);
  int (*unprotect)(void *c, uint8_t *p, size_t *len);
  void (*close)(void *c);
};

static void *onair_open(const struct dtls_srtp_keys *k) { return srtpctx_new(k); }
static int onair_protect(void *c, uint8_t *p, size_t *len) {
  return srtpctx_protect_rtp(c, p, len, SLOT);
}
static int onair_unprotect(void *c, uint8_t *p, size_t *len) {
  return srtpctx_unprotect_rtp(c, p, len);
}
static void onair_close(void *c) { srtpctx_free(c); }

/* libsrtp: one session each way (tests/srtp_ref.h). */
struct lib_pair {
  srtp_t out, in;
};

static void *lib_open(const struct dtls_srtp_keys *k) {
  struct lib_pair *l = malloc(sizeof(*l));
  if (l == NULL)
    die("malloc");
  l->out = srtp_ref_session(k, 1);
  l->in = srtp_ref_session(k, 0);
  if (l->out == NULL || l->in == NULL)
    die("srtp_create");
  return l;
}
static int lib_protect(void *c, uint8_t *p, size_t *len) {
  int n = (int)*len;
  int rc = srtp_protect(((struct lib_pair *)c)->out, p, &n) == srtp_err_status_ok ? 0 : -EINVAL;
  *len = (size_t)n;
  return rc;
}
static int lib_unprotect(void *c, uint8_t *p, size_t *len) {
  int n = (int)*len;
  int rc = srtp_unprotect(((struct lib_pair *)c)->in, p, &n) == srtp_err_status_ok ? 0 : -EACCES;
  *len = (size_t)n;
  return rc;
}
static void lib_close(void *c) {
  srtp_dealloc(((struct lib_pair *)c)->out);
  srtp_dealloc(((struct lib_pair *)c)->in);
  free(c);
}

static const struct impl impls[2] = {
    {"onair", onair_open, onair_protect, onair_unprotect, onair_close},
    {"libsrtp2", lib_open, lib_protect, lib_unprotect, lib_close},
};

/* ---- measuring ---- */

struct keys {
  struct dtls_srtp_keys tx; /* one end */
  struct dtls_srtp_keys rx; /* the other: local and remote swapped */
};

static struct keys keys_make(int gcm) {
  struct keys k;
  memset(&k, 0, sizeof(k));
  k.tx.profile = gcm ? DTLS_SRTP_AEAD_AES_128_GCM : DTLS_SRTP_AES128_CM_SHA1_80;
  k.tx.key_len = DTLS_SRTP_KEY_MAX;
  k.tx.salt_len = gcm ? 12 : DTLS_SRTP_SALT_MAX;
  for (int i = 0; i < DTLS_SRTP_KEY_MAX; i++) {
    k.tx.local_key[i] = (uint8_t)(i * 3 + 1);
    k.tx.remote_key[i] = (uint8_t)(i * 5 + 2);
  }
  for (int i = 0; i < DTLS_SRTP_SALT_MAX; i++) {
    k.tx.local_salt[i] = (uint8_t)(i * 7 + 3);
    k.tx.remote_salt[i] = (uint8_t)(i * 11 + 4);
  }
  k.rx = k.tx;
  memcpy(k.rx.local_key, k.tx.remote_key, DTLS_SRTP_KEY_MAX);
  memcpy(k.rx.remote_key, k.tx.local_key, DTLS_SRTP_KEY_MAX);
  memcpy(k.rx.local_salt, k.tx.remote_salt, DTLS_SRTP_SALT_MAX);
  memcpy(k.rx.remote_salt, k.tx.local_salt, DTLS_SRTP_SALT_MAX);
  return k;
}

/* ns a packet to protect PKTS packets of len bytes, fresh contexts. */
static double run_protect(const struct impl *im, const struct keys *k, size_t len, uint8_t *work) {
  static uint8_t plain[SLOT];
  void *c = im->open(&k->tx);
  if (c == NULL)
    die("open");
  rtp_fill(plain, len, 0);
  double t0 = now_ns();
  for (unsigned i = 0; i < PKTS; i++) {
    size_t n = len;
    memcpy(work, plain, len);
    work[2] = (uint8_t)(i >> 8);
    work[3] = (uint8_t)i;
    if (im->protect(c, work, &n) < 0)
      die("protect");
  }
  double t = (now_ns() - t0) / PKTS;
  im->close(c);
  return t;
}

/* ns a packet to unprotect PKTS packets: ROUNDS times the SET protected
 * packets at prot (SLOT bytes apart, lens[i] long), each round on fresh
 * contexts (made and freed outside the timing), so the packets read stay
 * in cache as the one protect copies from does. */
static double run_unprotect(const struct impl *im, const struct keys *k, const uint8_t *prot,
                            const size_t *lens, uint8_t *work) {
  double t = 0;
  for (unsigned r = 0; r < ROUNDS; r++) {
    void *c = im->open(&k->rx);
    if (c == NULL)
      die("open");
    double t0 = now_ns();
    for (unsigned i = 0; i < SET; i++) {
      size_t n = lens[i];
      memcpy(work, prot + (size_t)i * SLOT, n);
      if (im->unprotect(c, work, &n) < 0)
        die("unprotect");
    }
    t += now_ns() - t0;
    im->close(c);
  }
  return t / PKTS;
}

/* The floor: one EVP AES-128-GCM context keyed once; a packet sets its IV,
 * takes the 12-byte header as AAD, seals the rest and writes the tag. */
static double run_floor(size_t len, uint8_t *work) {
  static uint8_t plain[SLOT];
  uint8_t key[16] = {1}, iv[12] = {2};
  int out;
  EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (aes == NULL || c == NULL || !EVP_EncryptInit_ex2(c, aes, key, NULL, NULL))
    die("EVP AES-128-GCM");
  rtp_fill(plain, len, 0);
  double t0 = now_ns();
  for (unsigned i = 0; i < PKTS; i++) {
    memcpy(work, plain, len);
    iv[11] = (uint8_t)i;
    iv[10] = (uint8_t)(i >> 8);
    if (!EVP_EncryptInit_ex2(c, NULL, NULL, iv, NULL) ||
        !EVP_EncryptUpdate(c, NULL, &out, work, 12) ||
        !EVP_EncryptUpdate(c, work + 12, &out, work + 12, (int)len - 12) ||
        !EVP_EncryptFinal_ex(c, work + len, &out) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, work + len))
      die("seal");
  }
  double t = (now_ns() - t0) / PKTS;
  EVP_CIPHER_CTX_free(c);
  EVP_CIPHER_free(aes);
  return t;
}

/* HMAC-SHA1 of len bytes and a 4-byte ROC with a key prepared once: via
 * EVP_MAC (re-initialised with a NULL key) or HMAC_CTX (HMAC_Init_ex with
 * a NULL key). */
static double run_hmac(int evp_mac, size_t len, const uint8_t *data) {
  uint8_t key[20] = {9}, mac[EVP_MAX_MD_SIZE], roc[4] = {0};
  size_t mac_len;
  unsigned int hlen;
  EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *mc = m ? EVP_MAC_CTX_new(m) : NULL;
  HMAC_CTX *h = HMAC_CTX_new();
  OSSL_PARAM ps[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA1", 0),
                     OSSL_PARAM_construct_end()};
  if (mc == NULL || h == NULL || !EVP_MAC_init(mc, key, sizeof(key), ps) ||
      !HMAC_Init_ex(h, key, sizeof(key), EVP_sha1(), NULL))
    die("HMAC");
  double t0 = now_ns();
  for (unsigned i = 0; i < PKTS; i++) {
    roc[3] = (uint8_t)i;
    int ok = evp_mac
                 ? EVP_MAC_init(mc, NULL, 0, NULL) && EVP_MAC_update(mc, data, len) &&
                       EVP_MAC_update(mc, roc, 4) && EVP_MAC_final(mc, mac, &mac_len, sizeof(mac))
                 : HMAC_Init_ex(h, NULL, 0, NULL, NULL) && HMAC_Update(h, data, len) &&
                       HMAC_Update(h, roc, 4) && HMAC_Final(h, mac, &hlen);
    if (!ok)
      die("HMAC");
  }
  double t = (now_ns() - t0) / PKTS;
  EVP_MAC_CTX_free(mc);
  EVP_MAC_free(m);
  HMAC_CTX_free(h);
  return t;
}

/* ---- the table ---- */

struct row {
  const char *profile;
  size_t size;
  const char *dir;
  double ns[2]; /* onair, libsrtp2 */
};

/* Protected copies of SET packets of len bytes (onair sends them; the
 * bytes are libsrtp's too), for the unprotect runs. */
static uint8_t *packets_make(const struct keys *k, size_t len, size_t *lens) {
  uint8_t *prot = malloc((size_t)SET * SLOT);
  void *c = impls[0].open(&k->tx);
  if (prot == NULL || c == NULL)
    die("packets");
  for (unsigned i = 0; i < SET; i++) {
    lens[i] = len;
    rtp_fill(prot + (size_t)i * SLOT, len, (uint16_t)i);
    if (impls[0].protect(c, prot + (size_t)i * SLOT, &lens[i]) < 0)
      die("protect");
  }
  impls[0].close(c);
  return prot;
}

/* The floor and the HMAC interfaces for one size, measured in the same
 * repetitions as the rows (so a machine that slows down slows all). */
struct extra {
  double floor[2 * REPS], evp_mac[2 * REPS], hmac_ctx[2 * REPS];
  int n;
};

/* Both rows (protect, unprotect) of one profile and size: each
 * implementation in turn, and the floor and HMACs into x, REPS times. */
static void measure(int gcm, size_t len, struct row *prot_row, struct row *unprot_row,
                    struct extra *x) {
  static size_t lens[SET];
  static uint8_t work[SLOT];
  double p[2][REPS], u[2][REPS];
  struct keys k = keys_make(gcm);
  uint8_t *prot = packets_make(&k, len, lens);
  for (int r = 0; r < REPS; r++, x->n++) {
    for (int i = 0; i < 2; i++) {
      p[i][r] = run_protect(&impls[i], &k, len, work);
      u[i][r] = run_unprotect(&impls[i], &k, prot, lens, work);
    }
    x->floor[x->n] = run_floor(len, work);
    x->evp_mac[x->n] = run_hmac(1, len, work);
    x->hmac_ctx[x->n] = run_hmac(0, len, work);
  }
  const char *name = gcm ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80";
  *prot_row = (struct row){name, len, "protect", {median(p[0], REPS), median(p[1], REPS)}};
  *unprot_row = (struct row){name, len, "unprotect", {median(u[0], REPS), median(u[1], REPS)}};
  free(prot);
}

static void machine(char *out, size_t cap) {
  char model[256] = "unknown CPU", line[512];
  FILE *f = fopen("/proc/cpuinfo", "r");
  struct utsname u;
  while (f && fgets(line, sizeof(line), f)) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) == 0 && colon) {
      snprintf(model, sizeof(model), "%s", colon + 2);
      model[strcspn(model, "\n")] = 0;
      break;
    }
  }
  if (f)
    fclose(f);
  if (uname(&u) < 0)
    die("uname");
  snprintf(out, cap, "%s (%ld CPUs online), %s %s %s, %s, %s", model, sysconf(_SC_NPROCESSORS_ONLN),
           u.sysname, u.release, u.machine, OpenSSL_version(OPENSSL_VERSION),
           srtp_get_version_string());
}

static void report(FILE *f, const struct row *rows, int nrows, const double *floor_ns,
                   const double (*hmac)[2]) {
  char m[1024], date[64];
  time_t t = time(NULL);
  strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&t));
  machine(m, sizeof(m));
  fprintf(f, "\n## SRTP cost, onair and libsrtp2: %s\n\nMachine: %s.\n\n", date, m);
  fprintf(f,
          "ns per RTP packet, median of %d runs of %d packets (copying the packet into place "
          "included); floor: the bare EVP AES-128-GCM seal of the same bytes.\n\n",
          REPS, PKTS);
  fprintf(f, "| profile | bytes | | onair | libsrtp2 | libsrtp2 / onair | onair / floor |\n");
  fprintf(f, "| --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
  for (int i = 0; i < nrows; i++) {
    const struct row *r = &rows[i];
    double fl = floor_ns[r->size == sizes[0] ? 0 : 1];
    fprintf(f, "| %s | %zu | %s | %.0f | %.0f | %.2f | %.2f |\n", r->profile, r->size, r->dir,
            r->ns[0], r->ns[1], r->ns[1] / r->ns[0], r->ns[0] / fl);
  }
  fprintf(f, "| floor: EVP AES-128-GCM seal | %zu | | %.0f | | | |\n", sizes[0], floor_ns[0]);
  fprintf(f, "| floor: EVP AES-128-GCM seal | %zu | | %.0f | | | |\n", sizes[1], floor_ns[1]);
  fprintf(f, "\nHMAC-SHA1 over the packet and a 4-byte ROC, key prepared once (srtpctx.c uses "
             "HMAC_CTX): ");
  for (int s = 0; s < NSIZES; s++)
    fprintf(f, "%s%zu B: EVP_MAC %.0f ns, HMAC_CTX %.0f ns", s ? "; " : "", sizes[s], hmac[s][0],
            hmac[s][1]);
  fprintf(f, ".\n");
}

static void append_results(const char *path, const struct row *rows, int nrows,
                           const double *floor_ns, const double (*hmac)[2]) {
  FILE *f = fopen(path, "r");
  int fresh = f == NULL;
  if (f)
    fclose(f);
  if ((f = fopen(path, "a")) == NULL)
    die(path);
  if (fresh)
    fprintf(f, "# Benchmark results\n");
  report(f, rows, nrows, floor_ns, hmac);
  if (fclose(f) != 0)
    die(path);
}

int main(int argc, char **argv) {
  struct row rows[2 * NSIZES * 2];
  struct extra x[NSIZES];
  double floor_ns[NSIZES], hmac[NSIZES][2];
  int n = 0;
  memset(x, 0, sizeof(x));
  if (srtp_init() != srtp_err_status_ok || srtpctx_global_init() < 0)
    die("init");
  for (int gcm = 1; gcm >= 0; gcm--) {
    for (int s = 0; s < NSIZES; s++, n += 2)
      measure(gcm, sizes[s], &rows[n], &rows[n + 1], &x[s]);
  }
  for (int s = 0; s < NSIZES; s++) {
    floor_ns[s] = median(x[s].floor, x[s].n);
    hmac[s][0] = median(x[s].evp_mac, x[s].n);
    hmac[s][1] = median(x[s].hmac_ctx, x[s].n);
  }
  report(stdout, rows, n, floor_ns, (const double(*)[2])hmac);
  if (argc > 1)
    append_results(argv[1], rows, n, floor_ns, (const double(*)[2])hmac);
  srtp_shutdown();
  return 0;
}
