// Makes JSON Web Tokens the way an attacker (or a misbehaving provider) would,
// with node's crypto only: decode a compact JWT, sign claims again with any
// private JWK (RS256, PS256, ES256), with "alg":"none", with HS256 keyed by any
// secret (classically the provider's RSA public key in PEM), and with any kid.
// Also generates RSA and EC key pairs as JWKs with a kid.
//
// Used by the OpenID Connect tests to produce bad ID tokens without weakening
// onair.
'use strict';
const crypto = require('node:crypto');

const b64u = buf => Buffer.from(buf).toString('base64url');
const b64uJson = obj => b64u(Buffer.from(JSON.stringify(obj), 'utf8'));

// { header, payload, signature (Buffer), signingInput (string) } of a compact JWS.
function decode(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error(`not a compact JWS (${parts.length} parts)`);
  return {
    header: JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')),
    signature: Buffer.from(parts[2], 'base64url'),
    signingInput: `${parts[0]}.${parts[1]}`,
  };
}

// A new RSA key pair as a private JWK (with kid and use; no alg, so it serves
// RS256 and PS256 alike).
function rsaJwk(kid = 'rsa-' + crypto.randomBytes(4).toString('hex'), bits = 2048) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}

// A new P-256 key pair as a private JWK.
function ecJwk(kid = 'ec-' + crypto.randomBytes(4).toString('hex')) {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}

// The public half of a private JWK (as published in a JWKS).
function publicJwk(jwk) {
  const pub = crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'jwk' });
  const out = { ...pub, kid: jwk.kid };
  if (jwk.use) out.use = jwk.use;
  if (jwk.alg) out.alg = jwk.alg;
  return out;
}

// The public key of a JWK as SPKI PEM text ("-----BEGIN PUBLIC KEY-----...").
function publicPem(jwk) {
  return crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' });
}

// Signs signingInput with alg and key (a private JWK for RS/PS/ES, a secret
// string or Buffer for HS). Returns the signature bytes.
function signBytes(alg, key, signingInput) {
  const data = Buffer.from(signingInput, 'ascii');
  switch (alg) {
    case 'RS256':
      return crypto.sign('sha256', data, crypto.createPrivateKey({ key, format: 'jwk' }));
    case 'PS256':
      return crypto.sign('sha256', data, {
        key: crypto.createPrivateKey({ key, format: 'jwk' }),
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
    case 'ES256':
      // JWS wants the raw r||s form, not DER.
      return crypto.sign('sha256', data, { key: crypto.createPrivateKey({ key, format: 'jwk' }), dsaEncoding: 'ieee-p1363' });
    case 'HS256':
      return crypto.createHmac('sha256', key).update(data).digest();
    case 'none':
      return Buffer.alloc(0);
    default:
      throw new Error('jwt-forge: unsupported alg ' + alg);
  }
}

// Signs payload. opts: alg (default from the key: RS256 for RSA, ES256 for
// EC), key (private JWK, or HS secret), kid (default key.kid; null leaves it
// out), header (extra header fields, applied last).
function sign(payload, opts = {}) {
  const { key } = opts;
  let alg = opts.alg;
  if (!alg) alg = key && key.kty === 'EC' ? 'ES256' : 'RS256';
  const header = { alg, typ: 'JWT' };
  const kid = opts.kid === undefined ? (key && key.kid) : opts.kid;
  if (kid !== null && kid !== undefined && alg !== 'none') header.kid = kid;
  Object.assign(header, opts.header || {});
  const signingInput = `${b64uJson(header)}.${b64uJson(payload)}`;
  return `${signingInput}.${b64u(signBytes(alg, key, signingInput))}`;
}

// Takes a real token, applies edit(payload) (edits a copy in place, or returns
// a new payload), and
// signs the result again with opts (see sign). The kid is opts.kid if given,
// else the signing JWK's kid, else the original header's.
function resign(token, edit, opts = {}) {
  const { header, payload } = decode(token);
  const copy = JSON.parse(JSON.stringify(payload));
  const p = edit ? (edit(copy) || copy) : copy;
  const o = { ...opts };
  if (o.kid === undefined) o.kid = (o.key && typeof o.key === 'object' && o.key.kid) || header.kid;
  return sign(p, o);
}

// The classic algorithm-confusion token: HS256 keyed with the text of the
// provider's RSA public key (PEM), keeping its kid.
function hs256WithPublicKey(token, rsaJwkPublicOrPrivate, edit) {
  return resign(token, edit, { alg: 'HS256', key: publicPem(rsaJwkPublicOrPrivate) });
}

// "alg":"none" with an empty signature (the kid is dropped, as such tokens do).
function algNone(token, edit) {
  return resign(token, edit, { alg: 'none', kid: null });
}

// The token with one signature byte flipped.
function flipSignature(token) {
  const [h, p, s] = token.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length >> 1] ^= 0x01;
  return `${h}.${p}.${b64u(sig)}`;
}

// Verifies a compact JWS against a public or private JWK (for the tests' own
// sanity checks).
function verify(token, jwk) {
  const { header, signature, signingInput } = decode(token);
  const data = Buffer.from(signingInput, 'ascii');
  const pub = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  switch (header.alg) {
    case 'RS256': return crypto.verify('sha256', data, pub, signature);
    case 'PS256': return crypto.verify('sha256', data, { key: pub, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
    case 'ES256': return crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, signature);
    default: return false;
  }
}

module.exports = {
  decode, sign, resign, hs256WithPublicKey, algNone, flipSignature, verify,
  rsaJwk, ecJwk, publicJwk, publicPem,
};
