"""A relying party built on authlib, signing a user in to the provider under test.

Usage: oidc_rp_authlib.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI AUTH_METHOD EMAIL PASSWORD [keep]

AUTH_METHOD is client_secret_basic, client_secret_post or none (then CLIENT_SECRET is ignored).
The browser's part (the sign-in and consent forms) is played by form posts with a cookie jar of
our own: the pages' cookies are `Secure`, which Python's jar never sends over plain http, even
to a loopback address a browser treats as secure.

Everything a relying party checks, authlib checks with its own code: the token response, the ID
token's signature against the provider's JWKS (keys found through discovery), its issuer,
audience, expiry, nonce and at_hash. On top, this script checks what authlib leaves to its
caller: the `iss` of the authorization response (RFC 9207) and the `state`. It prints one JSON
object with what it saw, and exits 1 with the reason on the first failure. With `keep`, it stops
after the code exchange and prints the tokens, alive, for the caller to try elsewhere.
"""

import base64
import json
import re
import sys
from html import unescape
from urllib.parse import parse_qs, urljoin, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session
from joserfc.errors import BadSignatureError

SCOPE = "openid email offline_access"


class Browser:
    """Form posts and redirects by hand, with the cookies kept here."""

    def __init__(self):
        self.cookies = {}

    def _send(self, method, url, data=None):
        header = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        answer = requests.request(
            method, url, data=data, allow_redirects=False,
            headers={"Cookie": header, "Accept": "text/html"} if header else {"Accept": "text/html"},
            timeout=10,
        )
        for line in answer.raw.headers.getlist("Set-Cookie"):
            pair = line.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if "max-age=0" in line.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return answer

    def get(self, url):
        return self._send("GET", url)

    def post(self, url, data):
        return self._send("POST", url, data)


def form_fields(html):
    """The hidden inputs of a page's forms, by name (the last one wins)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = unescape(value.group(1)) if value else ""
    return fields


def fail(why):
    print(why, file=sys.stderr)
    sys.exit(1)


def expect(answer, status, what):
    if answer.status_code != status:
        fail(f"{what}: expected {status}, got {answer.status_code}: {answer.text[:500]}")


class IdTokens(OpenIDMixin):
    """authlib's own ID token parsing, fed with this provider's metadata."""

    def __init__(self, client_id, metadata, session):
        self.client_id = client_id
        self.server_metadata = metadata
        self._session = session

    def load_server_metadata(self):
        return self.server_metadata

    def _get_session(self):
        return self._session


def tampered(token):
    """The ID token with one claim changed and the signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def main():
    issuer, client_id, secret, redirect_uri, method, email, password = sys.argv[1:8]
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    if metadata["issuer"] != issuer:
        fail(f"discovery names issuer {metadata['issuer']}")
    client = OAuth2Session(
        client_id,
        None if method == "none" else secret,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=method,
    )
    verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    # The browser: sent to sign in, signs in, comes back, consents, and is sent to the client.
    browser = Browser()
    answer = browser.get(url)
    expect(answer, 303, "the authorization request of a browser signed in nowhere")
    sign_in = urljoin(issuer, answer.headers["Location"])
    if not urlparse(sign_in).path == "/ui/sign-in":
        fail(f"not sent to sign in: {sign_in}")
    page = browser.get(sign_in)
    expect(page, 200, "the sign-in page")
    fields = form_fields(page.text)
    fields.update(email=email, password=password)
    answer = browser.post(f"{issuer}/ui/sign-in", fields)
    expect(answer, 303, "signing in")
    back = urljoin(issuer, answer.headers["Location"])
    page = browser.get(back)
    expect(page, 200, "the consent page")
    if "consent-allow" not in page.text:
        fail(f"no consent asked: {page.text[:500]}")
    policy = page.headers.get("Content-Security-Policy", "")
    origin = "{0.scheme}://{0.netloc}".format(urlparse(redirect_uri))
    if f"form-action 'self' {origin}" not in policy:
        fail(f"the consent page's policy blocks its own redirect: {policy}")
    fields = form_fields(page.text)
    fields["decision"] = "allow"
    answer = browser.post(f"{issuer}/oauth2/authorize", fields)
    expect(answer, 303, "consenting")
    callback = answer.headers["Location"]
    if not callback.startswith(redirect_uri + "?"):
        fail(f"sent somewhere else: {callback}")
    params = parse_qs(urlparse(callback).query)
    if params.get("iss") != [issuer]:
        fail(f"the authorization response's iss is {params.get('iss')} (RFC 9207)")

    # The relying party: authlib's own code from here.
    token = client.fetch_token(
        metadata["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    if sys.argv[8:] == ["keep"]:
        print(json.dumps({
            "access_token": token["access_token"],
            "id_token": token["id_token"],
            "refresh_token": token.get("refresh_token"),
        }))
        return
    session = OAuth2Session(client_id, token=token)
    ids = IdTokens(client_id, metadata, session)
    claims = ids.parse_id_token(token, nonce=nonce)
    info = client.get(metadata["userinfo_endpoint"]).json()
    if info.get("sub") != claims["sub"]:
        fail(f"userinfo names {info.get('sub')}, the ID token {claims['sub']}")
    refreshed = client.refresh_token(
        metadata["token_endpoint"], refresh_token=token["refresh_token"]
    )
    if refreshed["access_token"] == token["access_token"]:
        fail("the refresh gave the same access token")
    # The spent refresh token again: refused (reuse), and the grant ends with it.
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    if method != "client_secret_basic":
        data["client_id"] = client_id
    if method == "client_secret_post":
        data["client_secret"] = secret
    reuse = requests.post(
        metadata["token_endpoint"],
        data=data,
        auth=(client_id, secret) if method == "client_secret_basic" else None,
        timeout=10,
    )

    try:
        ids.parse_id_token(dict(token, id_token=tampered(token["id_token"])), nonce=nonce)
        tamper = "accepted"
    except BadSignatureError as error:
        tamper = f"refused: {type(error).__name__}"

    print(json.dumps({
        "sub": claims["sub"],
        "email": claims.get("email"),
        "amr": claims.get("amr"),
        "acr": claims.get("acr"),
        "aud": claims["aud"],
        "scope": token.get("scope"),
        "userinfo_email": info.get("email"),
        "refreshed_scope": refreshed.get("scope"),
        "reuse_status": reuse.status_code,
        "reuse_error": reuse.json().get("error"),
        "tampered_id_token": tamper,
        "access_token": refreshed["access_token"],
        "id_token": refreshed.get("id_token"),
    }))


if __name__ == "__main__":
    main()
