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

const [issuer, clientId, secret, redirectUri, email, password] = process.argv.slice(2);

function fail(why) {
  console.error(why);
  process.exit(1);
}

const cookies = new Map();
async function browse(url, form) {
  const headers = { accept: 'text/html' };
  if (cookies.size) {
    headers.cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  const init = { redirect: 'manual', headers };
  if (form) {
    init.method = 'POST';
    init.body = new URLSearchParams(form);
  }
  const answer = await fetch(url, init);
  for (const line of answer.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
    if (/max-age=0/i.test(line)) cookies.delete(name);
    else cookies.set(name, value);
  }
  return answer;
}

// An attribute's text as the page escaped it, unescaped.
function unescape(text) {
  const named = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, entity) => {
    if (entity[0] !== '#') return named[entity.toLowerCase()] ?? whole;
    const hex = entity[1] === 'x' || entity[1] === 'X';
    return String.fromCodePoint(parseInt(entity.slice(hex ? 2 : 1), hex ? 16 : 10));
  });
}

function hidden(html) {
  const fields = {};
  for (const tag of html.match(/<input[^>]*>/g) ?? []) {
    const name = tag.match(/name="([^"]*)"/);
    const value = tag.match(/value="([^"]*)"/);
    if (name && tag.includes('type="hidden"')) {
      fields[name[1]] = value ? unescape(value[1]) : '';
    }
  }
  return fields;
}

function expect(answer, status, what) {
  if (answer.status !== status) fail(`${what}: expected ${status}, got ${answer.status}`);
}

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
  let answer = await browse(url);
  if (withEmail) {
    expect(answer, 303, 'an authorization request of a browser signed in nowhere');
    const signInPage = new URL(answer.headers.get('location'), issuer);
    const page = await browse(signInPage);
    expect(page, 200, 'the sign-in page');
    answer = await browse(new URL('/ui/sign-in', issuer), {
      ...hidden(await page.text()),
      email,
      password,
    });
    expect(answer, 303, 'signing in');
    answer = await browse(new URL(answer.headers.get('location'), issuer));
  }
  // The first time, the consent page; after that the consent is remembered.
  if (withEmail) {
    expect(answer, 200, 'the consent page');
    answer = await browse(new URL('/oauth2/authorize', issuer), {
      ...hidden(await answer.text()),
      decision: 'allow',
    });
  }
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
