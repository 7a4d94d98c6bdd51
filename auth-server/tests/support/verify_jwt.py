"""Verifies an EdDSA or RS256 JWT with nothing but the issuer's JWKS, independently of the Rust
code.

Usage: verify_jwt.py JWKS_JSON TOKEN AUDIENCE. Prints the subject and exits 0 when the token
verifies; exits 1 with the reason otherwise. Needs the `cryptography` package.
"""

import base64
import json
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers


def b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def main() -> int:
    jwks, token, audience = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64url(header_b64))
    alg = header.get("alg")
    if alg not in ("EdDSA", "RS256") or header.get("typ") != "at+jwt":
        print(f"unexpected header {header}")
        return 1
    keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    if len(keys) != 1:
        print("no key with that kid in the JWKS")
        return 1
    jwk, signed = keys[0], f"{header_b64}.{payload_b64}".encode()
    try:
        if alg == "EdDSA" and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            Ed25519PublicKey.from_public_bytes(b64url(jwk["x"])).verify(b64url(signature_b64), signed)
        elif alg == "RS256" and jwk.get("kty") == "RSA":
            n = int.from_bytes(b64url(jwk["n"]), "big")
            e = int.from_bytes(b64url(jwk["e"]), "big")
            if n.bit_length() < 2048:
                print(f"an RSA key of {n.bit_length()} bits")
                return 1
            RSAPublicNumbers(e, n).public_key().verify(
                b64url(signature_b64), signed, padding.PKCS1v15(), hashes.SHA256()
            )
        else:
            print(f"the key with that kid is not for {alg}: {jwk}")
            return 1
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
