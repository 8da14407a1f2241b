// Verifies a Licensor webhook delivery (docs/notifications.md) with `jose` and WebCrypto.
//
// Usage: node verify.mjs CAPTURE.json
// CAPTURE.json holds {"headers": {...}, "body": "<the raw body>", "jwks": <GET /api/v1/keys>,
// "now": <unix seconds>}. Prints the event's type and id and exits 0 when the delivery is
// genuine; exits 1 naming the reason otherwise.
import { importJWK } from 'jose';
import { readFileSync } from 'node:fs';

const TOLERANCE_SECONDS = 300;

// Returns the event when the delivery is genuine and new; throws otherwise.
// headers: names in lower case; body: the raw body (string); jwks: GET /api/v1/keys;
// seenIds: a Set of ids already accepted; now: the receiver's time in Unix seconds.
export async function verify(headers, body, jwks, seenIds, now) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  if (Math.abs(now - Number(timestamp)) > TOLERANCE_SECONDS) {
    throw new Error('timestamp outside the tolerance: a replay or a skewed clock');
  }
  if (seenIds.has(id)) throw new Error('event id already seen: a replay');
  const jwk = jwks.keys.find((k) => k.kid === headers['licensor-key-id']);
  if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') throw new Error('unknown signing key');
  const key = await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA');
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  for (const candidate of headers['webhook-signature'].split(' ')) {
    const [version, signature] = candidate.split(',', 2);
    if (version !== 'v1a' || !signature) continue;
    const valid = await crypto.subtle.verify('Ed25519', key, Buffer.from(signature, 'base64'), signed);
    if (!valid) continue;
    const event = JSON.parse(body);
    if (event.id !== id) throw new Error("the body's id is not the signed webhook-id");
    seenIds.add(id);
    return event;
  }
  throw new Error('no valid signature');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const capture = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  try {
    const event = await verify(capture.headers, capture.body, capture.jwks, new Set(), capture.now);
    console.log(event.type, event.id);
  } catch (e) {
    console.error(`rejected: ${e.message}`);
    process.exit(1);
  }
}
