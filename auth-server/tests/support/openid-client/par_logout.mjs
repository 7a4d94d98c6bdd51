// A relying party on openid-client (v6) that pushes its authorization request (RFC 9126) and
// later signs the user out (OpenID Connect RP-Initiated Logout 1.0).
//
// Usage: node par_logout.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI EMAIL PASSWORD
//
// openid-client pushes the request (buildAuthorizationUrlWithPAR), exchanges the code and
// builds the logout address (buildEndSessionUrl) from discovery; the browser's part is played
// by fetch. It prints one JSON object of what each step answered; the caller judges it.
import * as client from 'openid-client';

import { browse, cookies, expect, fail, signInAndConsent } from './browser.mjs';

const [issuer, clientId, secret, redirectUri, postLogoutUri, email, password] =
  process.argv.slice(2);

const config = await client.discovery(
  new URL(issuer),
  clientId,
  secret,
  client.ClientSecretBasic(secret),
  { execute: [client.allowInsecureRequests] },
);
const metadata = config.serverMetadata();

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const url = await client.buildAuthorizationUrlWithPAR(config, {
  redirect_uri: redirectUri,
  scope: 'openid email offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});
const sent = [...url.searchParams.keys()].sort();

// Signed in nowhere: the sign-in page, then back to the same request_uri, then consent.
const { resumed: back, answer } = await signInAndConsent(url, issuer, email, password);
expect(answer, 303, 'the way back to the client');
const callback = new URL(answer.headers.get('location'));
if (!callback.searchParams.get('code')) fail(`no code on the way back: ${callback}`);

// The same request_uri again: it was used by the code.
const again = await browse(url);
const againText = await again.text();

const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();

// More scope on refresh than was granted: refused.
let escalation;
try {
  await client.refreshTokenGrant(config, tokens.refresh_token, {
    scope: 'openid email offline_access profile',
  });
  escalation = 'accepted';
} catch (error) {
  escalation = error.error ?? `${error.name}: ${error.message}`;
}

// A logout to an address the client did not register: a page, no redirect.
const unregistered = await browse(
  client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: `${postLogoutUri}/elsewhere`,
  }),
);
const unregisteredText = await unregistered.text();

// The logout: the hint names the user signed in here, so no question is asked.
const logoutState = client.randomState();
const logout = await browse(
  client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: postLogoutUri,
    state: logoutState,
  }),
);
let userinfoAfter;
try {
  await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  userinfoAfter = 'accepted';
} catch (error) {
  userinfoAfter = error.status ?? `${error.name}: ${error.message}`;
}
let refreshAfter;
try {
  await client.refreshTokenGrant(config, tokens.refresh_token);
  refreshAfter = 'accepted';
} catch (error) {
  refreshAfter = error.error ?? `${error.name}: ${error.message}`;
}

console.log(
  JSON.stringify({
    par_endpoint: metadata.pushed_authorization_request_endpoint,
    end_session_endpoint: metadata.end_session_endpoint,
    sent,
    resumed_with: [...back.searchParams.keys()].sort(),
    email: claims.email,
    used_again: { status: again.status, location: again.headers.get('location'), page: againText },
    escalation,
    unregistered: {
      status: unregistered.status,
      location: unregistered.headers.get('location'),
      page: unregisteredText,
    },
    logout: { status: logout.status, location: logout.headers.get('location') },
    logout_state: logoutState,
    session_cookie_left: [...cookies.keys()].some((name) => name.includes('session')),
    userinfo_after: userinfoAfter,
    refresh_after: refreshAfter,
  }),
);
