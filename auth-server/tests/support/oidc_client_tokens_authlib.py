"""A service and a relying party on authlib, using the provider's client-token endpoints.

Usage: oidc_client_tokens_authlib.py ISSUER SERVICE_ID SERVICE_SECRET CLIENT_ID CLIENT_SECRET ACCESS REFRESH

SERVICE is a client of the client_credentials grant (scopes orders:read and orders:write);
CLIENT a relying party holding a user's ACCESS and REFRESH tokens. Every request is authlib's
own: fetch_token with grant_type=client_credentials, introspect_token (RFC 7662) and
revoke_token (RFC 7009), endpoints found through discovery. It prints one JSON object with
what each answer said; the caller judges it.
"""

import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session


def answer(response):
    """A response's status and JSON body (None when empty)."""
    return {"status": response.status_code, "body": response.json() if response.content else None}


def main():
    issuer, service_id, service_secret, client_id, client_secret, access, refresh = sys.argv[1:8]
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    token_endpoint = metadata["token_endpoint"]
    introspect = metadata["introspection_endpoint"]
    revoke = metadata["revocation_endpoint"]

    service = OAuth2Session(service_id, service_secret, scope="orders:read")
    own = service.fetch_token(token_endpoint, grant_type="client_credentials")
    everything = OAuth2Session(service_id, service_secret).fetch_token(
        token_endpoint, grant_type="client_credentials"
    )
    seen = {
        "own_scope": own.get("scope"),
        "own_refresh_token": own.get("refresh_token"),
        "own_id_token": own.get("id_token"),
        "default_scope": everything.get("scope"),
        "own_introspected": answer(service.introspect_token(introspect, token=own["access_token"])),
        "escalation": answer(
            requests.post(
                token_endpoint,
                data={"grant_type": "client_credentials", "scope": "orders:delete"},
                auth=(service_id, service_secret),
                timeout=10,
            )
        ),
        "wrong_secret": answer(
            OAuth2Session(service_id, "not-the-secret").introspect_token(
                introspect, token=own["access_token"]
            )
        ),
        "own_revoked": answer(service.revoke_token(revoke, token=own["access_token"])),
    }

    client = OAuth2Session(client_id, client_secret)
    seen["access_introspected"] = answer(client.introspect_token(introspect, token=access))
    seen["refresh_introspected"] = answer(
        client.introspect_token(introspect, token=refresh, token_type_hint="refresh_token")
    )
    seen["refresh_by_service"] = answer(service.introspect_token(introspect, token=refresh))
    seen["revoked_by_service"] = answer(service.revoke_token(revoke, token=refresh))
    seen["revoked"] = answer(
        client.revoke_token(revoke, token=refresh, token_type_hint="refresh_token")
    )
    seen["access_after"] = answer(client.introspect_token(introspect, token=access))
    seen["refresh_after"] = answer(client.introspect_token(introspect, token=refresh))
    seen["revoked_again"] = answer(client.revoke_token(revoke, token=refresh))
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
