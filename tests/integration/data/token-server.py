#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# token-server.py: a token server for docker-registry's token auth (distribution's token spec),
# for the registry tests. Listens on 127.0.0.1.
#
#   token-server.py PORTFILE KEY.pem ISSUER LOG USER:PASS...
#
# GET /token?service=S&scope=repository:NAME:ACTIONS...&account=A answers {"token": JWT,
# "expires_in": 300}, a JWT signed RS256 with KEY.pem (openssl does the signing) whose "kid" is
# the libtrust key ID of the key, which is how the registry finds the matching certificate in its
# rootcertbundle. Grants: anonymous clients may pull repositories under "public/"; a user with a
# good password may pull and push everything. A bad password, or the user "locked", is a 401. The
# path /refuse/token always answers 401. Each request is logged to LOG as "PATH USER".
# The port it bound is written to PORTFILE once it listens.
import base64, hashlib, http.server, json, os, subprocess, sys, threading, time, urllib.parse

portfile, keyfile, issuer, logfile = sys.argv[1:5]
users = dict(u.split(":", 1) for u in sys.argv[5:])
lock = threading.Lock()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_kid(keyfile):
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True).stdout
    s = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(s[i:i + 4] for i in range(0, len(s), 4))


KID = libtrust_kid(keyfile)


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "kid": KID}
    msg = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile], input=msg,
                         stdout=subprocess.PIPE, check=True).stdout
    return msg.decode() + "." + b64url(sig)


def grants(user, scopes):
    access = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) != 3 or parts[0] != "repository":
            continue
        wanted = parts[2].split(",")
        if user:
            allowed = wanted
        else:
            allowed = [a for a in wanted if a == "pull" and parts[1].startswith("public/")]
        access.append({"type": "repository", "name": parts[1], "actions": allowed})
    return access


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def user(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return None, True
        try:
            u, p = base64.b64decode(h[6:]).decode().split(":", 1)
        except Exception:
            return None, False
        return u, users.get(u) == p and u != "locked"

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        user, good = self.user()
        with lock, open(logfile, "a") as f:
            f.write("%s %s\n" % (self.path, user or "-"))
        if url.path == "/refuse/token" or not good:
            return self.answer(401, {"errors": [{"code": "UNAUTHORIZED",
                                                 "message": "bad credentials"}]})
        now = int(time.time())
        claims = {"iss": issuer, "sub": user or "", "aud": q.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": b64url(os.urandom(12)), "access": grants(user, q.get("scope", []))}
        self.answer(200, {"token": sign(claims), "expires_in": 300,
                          "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
