// A relying party built on openid-client (v6), signing a user in to the provider under test.
//
// Usage: node rp.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI EMAIL PASSWORD
//
// The browser's part (the sign-in and consent forms) is played by fetch with the cookies kept
// here; everything a relying party checks, openid-client checks with its own code: discovery,
// the callback's state and iss (RFC 9207), the code exchange with PKCE, the ID token (its
// signature against the JWKS, issuer, audience, nonce, at_hash), userinfo's subject, and the
// refresh. It prints one JSON object of what it saw; it exits 1 on the first failure.
import * as client from 'openid-client';

import { browse, expect, fail, signInAndConsent } from './browser.mjs';

const [issuer, clientId, secret, redirectUri, email, password] = process.argv.slice(2);

// One tampered answer of the token endpoint, when armed: its ID token's subject changed.
let tamper = false;
async function customFetch(url, options) {
  const answer = await fetch(url, options);
  if (!tamper || !String(url).endsWith('/oauth2/token')) return answer;
  tamper = false;
  const body = await answer.json();
  const [header, payload, signature] = body.id_token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  claims.sub = 'someone-else';
  body.id_token = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
  return new Response(JSON.stringify(body), { status: answer.status, headers: answer.headers });
}

const config = await client.discovery(
  new URL(issuer),
  clientId,
  secret,
  client.ClientSecretBasic(secret),
  { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
);
config[client.customFetch] = customFetch;

async function signIn(withEmail) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  // The first time, sign-in and the consent page; after that the consent is remembered.
  const answer = withEmail
    ? (await signInAndConsent(url, issuer, email, password)).answer
    : await browse(url);
  expect(answer, 303, 'the way back to the client');
  const back = new URL(answer.headers.get('location'));
  if (!back.searchParams.get('code') || back.searchParams.get('error')) {
    fail(`no code on the way back: ${back}`);
  }
  return {
    callback: new URL(answer.headers.get('location')),
    checks: { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
  };
}

const first = await signIn(true);
const tokens = await client.authorizationCodeGrant(config, first.callback, first.checks);
const claims = tokens.claims();
const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);

// A second sign-in of the same browser, its token answer tampered with: refused.
const second = await signIn(false);
tamper = true;
let tampered;
try {
  await client.authorizationCodeGrant(config, second.callback, second.checks);
  tampered = 'accepted';
} catch (error) {
  tampered = `refused: ${error.cause?.message ?? error.message}`;
}
// The callback's iss must be this issuer: another one is refused before any exchange.
const third = await signIn(false);
third.callback.searchParams.set('iss', 'https://other.example');
let wrongIss;
try {
  await client.authorizationCodeGrant(config, third.callback, third.checks);
  wrongIss = 'accepted';
} catch (error) {
  wrongIss = `refused: ${error.cause?.message ?? error.message}`;
}

console.log(JSON.stringify({
  sub: claims.sub,
  email: claims.email,
  aud: claims.aud,
  userinfo_email: info.email,
  scope: tokens.scope,
  refreshed_scope: refreshed.scope,
  refreshed_id_token: typeof refreshed.id_token === 'string',
  tampered_id_token: tampered,
  wrong_iss: wrongIss,
}));
