// A service on openid-client (v6) authenticating with private_key_jwt and a key it makes.
//
// Usage: node private_key_jwt.mjs keys
//        node private_key_jwt.mjs use ISSUER CLIENT_ID PRIVATE_JWK
//
// `keys` makes an ES256 key with WebCrypto and prints {"private": JWK, "public": JWK Set}.
// `use` gets a client_credentials token twice with openid-client's PrivateKeyJwt (each
// request its own assertion, its aud the issuer), and introspects the first. It prints one
// JSON object with what each answer said (an OAuth error's code and description when refused);
// the caller judges it.
import { webcrypto } from 'node:crypto';

import * as client from 'openid-client';

const [mode, issuer, clientId, privateJwk] = process.argv.slice(2);

if (mode === 'keys') {
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const kid = webcrypto.randomUUID();
  const publicJwk = { ...(await webcrypto.subtle.exportKey('jwk', pair.publicKey)), kid, alg: 'ES256', use: 'sig' };
  delete publicJwk.key_ops;
  delete publicJwk.ext;
  const privateKey = { ...(await webcrypto.subtle.exportKey('jwk', pair.privateKey)), kid };
  console.log(JSON.stringify({ private: privateKey, public: { keys: [publicJwk] } }));
  process.exit(0);
}

const jwk = JSON.parse(privateJwk);
const key = await webcrypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, [
  'sign',
]);
const config = await client.discovery(
  new URL(issuer),
  clientId,
  undefined,
  client.PrivateKeyJwt({ key, kid: jwk.kid }),
  { execute: [client.allowInsecureRequests] },
);

async function outcome(call) {
  try {
    return { ok: await call() };
  } catch (error) {
    return { error: error.error ?? `${error.name}: ${error.message}`, description: error.error_description ?? null };
  }
}

const first = await outcome(() => client.clientCredentialsGrant(config, { scope: 'orders:read' }));
const second = await outcome(() => client.clientCredentialsGrant(config, { scope: 'orders:read' }));
const introspected = first.ok
  ? await outcome(() => client.tokenIntrospection(config, first.ok.access_token))
  : null;
console.log(
  JSON.stringify({
    first: first.ok ? { scope: first.ok.scope } : first,
    second: second.ok ? { scope: second.ok.scope } : second,
    introspected: introspected?.ok ?? introspected,
  }),
);
