"""A service on authlib authenticating with private_key_jwt (RFC 7523) and a key it makes.

Usage: oidc_private_key_jwt_authlib.py keys
       oidc_private_key_jwt_authlib.py use ISSUER CLIENT_ID PRIVATE_JWK

`keys` makes an RSA key with joserfc (authlib's JOSE library) and prints
{"private": JWK, "public": JWK Set}. `use` gets a client_credentials token with authlib's
PrivateKeyJWT (its aud the issuer identifier), introspects it with the same authentication,
then tries what must be refused: one assertion (signed by authlib's private_key_jwt_sign) sent
twice, and authlib's default assertion, whose aud is the token endpoint's address. It prints one
JSON object with what each answer said; the caller judges it.
"""

import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from authlib.oauth2.rfc7523.client import ASSERTION_TYPE
from joserfc.jwk import RSAKey


def answer(response):
    """A response's status and JSON body (None when empty)."""
    return {"status": response.status_code, "body": response.json() if response.content else None}


def keys():
    key = RSAKey.generate_key(2048, private=True, auto_kid=True)
    print(json.dumps({"private": key.as_dict(private=True), "public": {"keys": [key.as_dict(private=False)]}}))


def use(issuer, client_id, private_jwk):
    key = RSAKey.import_key(json.loads(private_jwk))
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    token_endpoint = metadata["token_endpoint"]
    # The audience is the issuer identifier (the 2025 fix), not the default token endpoint.
    session = OAuth2Session(client_id, key, token_endpoint_auth_method=PrivateKeyJWT(issuer))
    token = session.fetch_token(token_endpoint, grant_type="client_credentials")
    introspected = session.introspect_token(
        metadata["introspection_endpoint"], token=token["access_token"]
    )

    assertion = private_key_jwt_sign(key, client_id=client_id, token_endpoint=issuer)
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    first = requests.post(token_endpoint, data=form, timeout=10)
    replayed = requests.post(token_endpoint, data=form, timeout=10)

    default = OAuth2Session(client_id, key, token_endpoint_auth_method=PrivateKeyJWT())
    try:
        default.fetch_token(token_endpoint, grant_type="client_credentials")
        default_aud = "accepted"
    except Exception as error:  # authlib raises OAuthError with the answer's error
        default_aud = {"error": getattr(error, "error", None), "description": getattr(error, "description", str(error))}

    print(
        json.dumps(
            {
                "methods": metadata["token_endpoint_auth_methods_supported"],
                "scope": token.get("scope"),
                "introspected": introspected.json(),
                "first": answer(first),
                "replayed": answer(replayed),
                "default_aud": default_aud,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1] == "keys":
        keys()
    else:
        use(*sys.argv[2:5])
