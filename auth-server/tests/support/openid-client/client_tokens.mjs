// A service and a relying party on openid-client (v6), using the provider's client-token
// endpoints.
//
// Usage: node client_tokens.mjs ISSUER SERVICE_ID SERVICE_SECRET CLIENT_ID CLIENT_SECRET ACCESS REFRESH
//
// SERVICE is a client of the client_credentials grant; CLIENT a relying party holding a
// user's ACCESS and REFRESH tokens. Every request is openid-client's own, endpoints from
// discovery: clientCredentialsGrant, tokenIntrospection (RFC 7662), tokenRevocation (RFC
// 7009). It prints one JSON object with what each answer said; the caller judges it.
import * as client from 'openid-client';

const [issuer, serviceId, serviceSecret, clientId, clientSecret, access, refresh] =
  process.argv.slice(2);
const options = { execute: [client.allowInsecureRequests] };

// The OAuth error an openid-client call failed with, or the call's own error.
async function outcome(call) {
  try {
    await call();
    return 'ok';
  } catch (error) {
    return error.error ?? `${error.name}: ${error.message}`;
  }
}

const service = await client.discovery(
  new URL(issuer),
  serviceId,
  undefined,
  client.ClientSecretBasic(serviceSecret),
  options,
);
const own = await client.clientCredentialsGrant(service, { scope: 'orders:read' });
const ownIntrospected = await client.tokenIntrospection(service, own.access_token);
const ownRevoked = await outcome(() => client.tokenRevocation(service, own.access_token));

const relyingParty = await client.discovery(
  new URL(issuer),
  clientId,
  undefined,
  client.ClientSecretBasic(clientSecret),
  options,
);
const refreshBefore = await client.tokenIntrospection(relyingParty, refresh);
const revoked = await outcome(() => client.tokenRevocation(relyingParty, refresh));
const accessAfter = await client.tokenIntrospection(relyingParty, access);

console.log(
  JSON.stringify({
    own_scope: own.scope,
    own_refresh_token: own.refresh_token ?? null,
    own_introspected: ownIntrospected,
    own_revoked: ownRevoked,
    refresh_before: refreshBefore,
    revoked,
    access_after: accessAfter,
  }),
);
