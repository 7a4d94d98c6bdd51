#!/usr/bin/env python3
"""Limits under a burst: how many of a burst of wrong secrets reach the password hasher and
the TOTP checker of a running auth-server on PostgreSQL + Redis.

    python3 benches/load/limits_burst.py <auth-server binary> [port]

Starts the binary on the local PostgreSQL (a scratch schema of the `test` database) and Redis
(a key prefix of its own), with a hashing queue large enough that nothing is refused as busy,
registers an account with TOTP, then sends at once, each on a connection of its own:
200 wrong passwords, and 1,000 wrong codes on one second-factor challenge, followed by the
right code. Counts come from the server's /metrics: `auth_password_hash_duration_seconds_count`,
and `auth_mfa_verify_total{outcome="failure"}` (wrong codes checked; present in earlier
releases too, unlike `auth_second_factor_checks_total`). Needs psql and redis-cli; drops the
schema and deletes the keys at the end. A release without REDIS_KEY_PREFIX keeps its keys
under `auth:` (and its counters of 127.0.0.1 carry over between runs): run such a release
against a Redis of its own, emptied between runs.
"""
import asyncio, json, sys, uuid, subprocess, time, hmac, hashlib, base64, struct

BIN = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 18490
schema = "measure_" + uuid.uuid4().hex[:12]
prefix = "measure-" + uuid.uuid4().hex[:12] + ":"
subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", f"CREATE SCHEMA {schema}"], check=True)
keys = subprocess.run([BIN, "keys", "generate", "--format", "jwt-eddsa"], capture_output=True, text=True, check=True).stdout
env = {"PORT": str(PORT), "LOG_FORMAT": "json", "LOG_LEVEL": "error",
       "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3D{schema}",
       "REDIS_URL": "redis://127.0.0.1:6379", "REDIS_KEY_PREFIX": prefix,
       "AUTH_SIGNING_KEYS": json.dumps([json.loads(keys)]), "MFA_ENCRYPTION_KEY": "5e" * 32, "PASSWORD_HASH_QUEUE": "100000"}
server = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(3)

async def call(method, path, body=None, bearer=None):
    r, w = await asyncio.open_connection("127.0.0.1", PORT)
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nhost: l\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n"
    if bearer:
        head += f"authorization: Bearer {bearer}\r\n"
    w.write(head.encode() + b"\r\n" + data)
    await w.drain()
    raw = await r.read()
    w.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    try:
        return status, json.loads(body)
    except Exception:
        return status, body.decode()

async def metric(name):
    _, text = await call("GET", "/metrics")
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total

def totp(secret, offset=0):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time()) // 30 + offset
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = digest[-1] & 15
    return "%06d" % ((struct.unpack(">I", digest[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)

async def main():
    creds = {"email": f"m-{uuid.uuid4().hex}@example.com", "password": "correct horse battery staple"}
    print("register", (await call("POST", "/v1/auth/register", creds))[0])
    _, login = await call("POST", "/v1/auth/login", creds)
    access = login["access_token"]
    _, enrolled = await call("POST", "/v1/auth/mfa/totp/enroll", {}, access)
    secret = enrolled["secret"]
    print("confirm", (await call("POST", "/v1/auth/mfa/totp/confirm", {"code": totp(secret)}, access))[0])
    _, challenge = await call("POST", "/v1/auth/login", creds)
    token = challenge["mfa_token"]

    before = await metric("auth_password_hash_duration_seconds_count")
    started = time.time()
    res = await asyncio.gather(*[call("POST", "/v1/auth/login", {"email": creds["email"], "password": "wrong wrong wrong"}) for _ in range(200)])
    after = await metric("auth_password_hash_duration_seconds_count")
    statuses = {}
    for s, _ in res:
        statuses[s] = statuses.get(s, 0) + 1
    print(f"200 wrong passwords at once: {after - before:.0f} checked in {time.time() - started:.2f} s; statuses {statuses}")

    near = {totp(secret, k) for k in (-1, 0, 1, 2)}
    wrong = next(c for c in ("%06d" % (n * 7919 % 1000000) for n in range(100)) if c not in near)
    before = await metric('auth_mfa_verify_total{outcome="failure"}')
    started = time.time()
    res = await asyncio.gather(*[call("POST", "/v1/auth/mfa/verify", {"mfa_token": token, "code": wrong}) for _ in range(1000)])
    after = await metric('auth_mfa_verify_total{outcome="failure"}')
    statuses = {}
    for s, _ in res:
        statuses[s] = statuses.get(s, 0) + 1
    print(f"1000 wrong codes on one challenge at once: {after - before:.0f} checked (wrong codes evaluated) in {time.time() - started:.2f} s; statuses {statuses}")
    s, b = await call("POST", "/v1/auth/mfa/verify", {"mfa_token": token, "code": totp(secret, 0)})
    print("the right code afterwards:", s, b if s != 200 else "tokens issued")

try:
    asyncio.run(main())
finally:
    server.terminate(); server.wait()
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", f"DROP SCHEMA {schema} CASCADE"], capture_output=True)
    keys = subprocess.run(["redis-cli", "--scan", "--pattern", prefix + "*"], capture_output=True, text=True).stdout.split()
    if keys:
        subprocess.run(["redis-cli", "del", *keys], capture_output=True)
