// Signs a license with jose, an independent JWT implementation, for the interop tests.
// Usage: node sign-with-jose.mjs CLAIMS.json OUT_DIR [KID]
// Writes OUT_DIR/public.pem (SPKI) and OUT_DIR/license.jwt, and prints the key's RFC 7638
// thumbprint (what coder-license --trust-key uses as the key id when none is given).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, calculateJwkThumbprint } from 'jose';

const [claimsPath, outDir, kidArg] = process.argv.slice(2);
if (!claimsPath || !outDir) {
  console.error('usage: node sign-with-jose.mjs CLAIMS.json OUT_DIR [KID]');
  process.exit(2);
}
const claims = JSON.parse(readFileSync(claimsPath, 'utf8'));
const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
const thumbprint = await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
const kid = kidArg ?? thumbprint;
const token = await new SignJWT(claims)
  .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid })
  .sign(privateKey);
writeFileSync(join(outDir, 'public.pem'), await exportSPKI(publicKey));
writeFileSync(join(outDir, 'license.jwt'), token + '\n');
console.log(thumbprint);
