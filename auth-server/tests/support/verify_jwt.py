"""Verifies an EdDSA JWT with nothing but the issuer's JWKS, independently of the Rust code.

Usage: verify_jwt.py JWKS_JSON TOKEN AUDIENCE. Prints the subject and exits 0 when the token
verifies; exits 1 with the reason otherwise. Needs the `cryptography` package.
"""

import base64
import json
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def main() -> int:
    jwks, token, audience = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64url(header_b64))
    if header.get("alg") != "EdDSA" or header.get("typ") != "at+jwt":
        print(f"unexpected header {header}")
        return 1
    keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    if len(keys) != 1 or keys[0].get("kty") != "OKP" or keys[0].get("crv") != "Ed25519":
        print("no Ed25519 key with that kid in the JWKS")
        return 1
    public = Ed25519PublicKey.from_public_bytes(b64url(keys[0]["x"]))
    try:
        public.verify(b64url(signature_b64), f"{header_b64}.{payload_b64}".encode())
    except InvalidSignature:
        print("bad signature")
        return 1
    claims = json.loads(b64url(payload_b64))
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if audience not in audiences or claims["exp"] <= time.time():
        print(f"claims refused: {claims}")
        return 1
    print(claims["sub"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
