// The npm oidc-provider (a certified OpenID provider), set up as auth-server is in the
// side-by-side benchmark (benches/load/run.sh oidc-peer):
//
//   node provider.mjs PORT CODES_FILE CODES
//
// - an in-memory adapter (a Map, without the bundled development adapter's 1000-entry cap,
//   which would evict pre-minted codes), one client (client_secret_basic) allowed the
//   authorization_code and client_credentials grants;
// - access tokens as JWTs for one resource server (resource indicators), signed EdDSA, as are
//   the ID tokens, with a fresh Ed25519 key: the algorithm auth-server signs with here; and
//   opaque ones for a second resource (`resource=https://opaque.example.com`), because
//   oidc-provider introspects opaque tokens only;
// - CODES authorization codes minted at start through oidc-provider's own models (a Grant,
//   then AuthorizationCode.save, PKCE S256 with the verifier below), written to CODES_FILE one
//   per line, for the harness to exchange.
// It prints "ready" once it listens.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const [port, codesFile, count] = process.argv.slice(2);
export const CLIENT_ID = 'bench';
export const CLIENT_SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstuv';
const REDIRECT_URI = 'https://rp.example.com/callback';
const RESOURCE = 'https://orders.example.com';
// oidc-provider introspects opaque tokens only ("Structured JWT Tokens cannot be introspected"):
// tokens for this resource are opaque, for the introspection runs.
const OPAQUE_RESOURCE = 'https://opaque.example.com';
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';

// oidc-provider's adapter interface over plain Maps: every model kept until it expires.
const stores = new Map();
class MemoryAdapter {
  constructor(name) {
    this.name = name;
    if (!stores.has(name)) stores.set(name, new Map());
    this.store = stores.get(name);
  }

  async upsert(id, payload, expiresIn) {
    const expires = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    this.store.set(id, { payload, expires });
    if (payload.grantId) {
      const grants = stores.get('grants') ?? new Map();
      stores.set('grants', grants);
      const ids = grants.get(payload.grantId) ?? [];
      ids.push([this.name, id]);
      grants.set(payload.grantId, ids);
    }
  }

  async find(id) {
    const found = this.store.get(id);
    if (!found || found.expires < Date.now()) return undefined;
    return found.payload;
  }

  async findByUid(uid) {
    for (const { payload } of this.store.values()) if (payload.uid === uid) return payload;
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const { payload } of this.store.values()) if (payload.userCode === userCode) return payload;
    return undefined;
  }

  async consume(id) {
    const found = this.store.get(id);
    if (found) found.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    const grants = stores.get('grants');
    for (const [name, id] of grants?.get(grantId) ?? []) stores.get(name)?.delete(id);
    grants?.delete(grantId);
  }
}

const { privateKey } = generateKeyPairSync('ed25519');
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'EdDSA', use: 'sig' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  adapter: MemoryAdapter,
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['authorization_code', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'EdDSA',
      scope: 'openid orders:read',
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: ['openid', 'orders:read'],
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => (indicator === OPAQUE_RESOURCE
        ? { scope: 'orders:read', audience: OPAQUE_RESOURCE, accessTokenTTL: 900, accessTokenFormat: 'opaque' }
        : {
          scope: 'orders:read',
          audience: RESOURCE,
          accessTokenTTL: 900,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'EdDSA' } },
        }),
    },
  },
  pkce: { required: () => true },
  ttl: { AccessToken: 900, AuthorizationCode: 3600, ClientCredentials: 900, Grant: 3600, IdToken: 900 },
});

// Codes through the library's own models, as its authorization endpoint would leave them.
const client = await provider.Client.find(CLIENT_ID);
const challenge = createHash('sha256').update(VERIFIER).digest('base64url');
const codes = [];
for (let i = 0; i < Number(count); i += 1) {
  const accountId = `user-${i % 16}`;
  const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
  grant.addOIDCScope('openid');
  grant.addResourceScope(RESOURCE, 'orders:read');
  const grantId = await grant.save();
  const code = new provider.AuthorizationCode({
    client,
    accountId,
    grantId,
    scope: 'openid orders:read',
    resource: RESOURCE,
    redirectUri: REDIRECT_URI,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    authTime: Math.floor(Date.now() / 1000),
    expiresWithSession: false,
  });
  codes.push(await code.save());
}
writeFileSync(codesFile, `${codes.join('\n')}\n`);

provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
