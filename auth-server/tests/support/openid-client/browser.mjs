// The browser's part of a sign-in, for the openid-client scripts: fetch with cookies kept
// here, forms filled from a page's hidden fields.

export function fail(why) {
  console.error(why);
  process.exit(1);
}

export const cookies = new Map();
export async function browse(url, form) {
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

export function hidden(html) {
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

export function expect(answer, status, what) {
  if (answer.status !== status) fail(`${what}: expected ${status}, got ${answer.status}`);
}

// A browser signed in nowhere, from an authorization request to the way back to the client:
// the sign-in page, back to the request, the consent page allowed. Returns the address the
// sign-in sent the browser back to and the consent's answer.
export async function signInAndConsent(url, issuer, email, password) {
  let answer = await browse(url);
  expect(answer, 303, 'an authorization request of a browser signed in nowhere');
  const page = await browse(new URL(answer.headers.get('location'), issuer));
  expect(page, 200, 'the sign-in page');
  answer = await browse(new URL('/ui/sign-in', issuer), {
    ...hidden(await page.text()),
    email,
    password,
  });
  expect(answer, 303, 'signing in');
  const resumed = new URL(answer.headers.get('location'), issuer);
  answer = await browse(resumed);
  expect(answer, 200, 'the consent page');
  answer = await browse(new URL('/oauth2/authorize', issuer), {
    ...hidden(await answer.text()),
    decision: 'allow',
  });
  return { resumed, answer };
}
