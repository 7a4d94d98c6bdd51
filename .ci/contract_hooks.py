"""Schemathesis hooks for .ci/contract.sh: every bearer operation gets a real access token.

The run logs out, revokes sessions and sends wrong passwords to the step-up as it goes, so a
token or an account fixed at the start would soon be revoked or throttled, and every later
bearer request would only test the refusals. This provider registers a fresh account and logs
it in whenever it needs a token (at the start, and again after any 401), from 127.0.0.2: the
fuzzing requests come from 127.0.0.1, and the failures they cause are throttled there, as the
server must, without touching the provider's own logins.
"""

import http.client
import json
import os
import uuid

import schemathesis

PASSWORD = "a long and unlisted passphrase"


def post(path, body):
    connection = http.client.HTTPConnection(
        "127.0.0.1", int(os.environ["CONTRACT_PORT"]), timeout=10, source_address=("127.0.0.2", 0)
    )
    try:
        connection.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    if response.status not in (200, 201):
        raise RuntimeError(f"POST {path}: {response.status} {answer[:300]!r}")
    return json.loads(answer)


@schemathesis.auth()
class FreshAccount:
    def get(self, case, context):
        credentials = {"email": f"contract-{uuid.uuid4().hex}@example.com", "password": PASSWORD}
        post("/v1/auth/register", credentials)
        return post("/v1/auth/login", credentials)["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
