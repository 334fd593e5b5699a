#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# fault-proxy.py: an HTTP proxy in front of a registry that injects faults, for the registry
# fault tests. Listens on 127.0.0.1.
#
#   fault-proxy.py PORTFILE UPSTREAM_PORT RULES.json LOG
#
# RULES.json is read again for every request, so a test changes faults between commands. It is
# a list of rules; the first whose "match" (a regex) matches "METHOD PATH" and whose "count" is
# not used up (absent: forever) applies:
#   {"action": "status", "status": 500, "headers": {"Retry-After": "1"}}   answer that, no upstream
#   {"action": "drop", "after": N}       forward, but hang up after N bytes of the body
#   {"action": "corrupt", "offset": N}   forward, with the body's byte N flipped
#   {"action": "truncate", "length": N}  forward only N bytes of the body, Content-Length N
#   {"action": "content-type", "value": V}  forward with Content-Type V
#   {"action": "strip-range"}            forward without the request's Range header
# Counts are kept in memory per rule index. Every request is logged to LOG as
# "METHOD PATH range=RANGE -> STATUS ACTION". The port bound is written to PORTFILE.
import http.client, http.server, json, os, re, sys, threading

portfile, upstream, rulesfile, logfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()
used = {}
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def pick(line):
    try:
        with open(rulesfile) as f:
            rules = json.load(f)
    except (OSError, ValueError):
        rules = []
    with lock:
        for i, r in enumerate(rules):
            if not re.search(r["match"], line):
                continue
            key = json.dumps(r, sort_keys=True)
            if "count" in r and used.get(key, 0) >= r["count"]:
                continue
            used[key] = used.get(key, 0) + 1
            return r
    return None


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log(self, status, action):
        with lock, open(logfile, "a") as f:
            f.write("%s %s range=%s -> %s %s\n" % (self.command, self.path,
                                                  self.headers.get("Range", "-"), status, action))

    def send_head(self, status, headers, length):
        self.send_response_only(status)
        for k, v in headers:
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()

    def handle_any(self):
        rule = pick("%s %s" % (self.command, self.path)) or {"action": "pass"}
        action = rule["action"]
        self.close_connection = True
        n = int(self.headers.get("Content-Length", 0) or 0)
        body = self.rfile.read(n) if n else None
        if action == "status":
            data = json.dumps({"errors": [{"code": "INJECTED", "message": "fault proxy"}]}).encode()
            self.send_head(rule["status"], list(rule.get("headers", {}).items()), len(data))
            self.wfile.write(data if self.command != "HEAD" else b"")
            return self.log(rule["status"], action)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if action == "strip-range":
            headers.pop("Range", None)
        conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read() if self.command != "HEAD" else b""
        rh = resp.getheaders()
        length = int(resp.getheader("Content-Length", len(data)) or 0)
        if action == "content-type":
            rh = [(k, v) for k, v in rh if k.lower() != "content-type"] + [("Content-Type", rule["value"])]
        if action == "corrupt" and len(data) > rule["offset"]:
            o = rule["offset"]
            data = data[:o] + bytes([data[o] ^ 0x01]) + data[o + 1:]
        if action == "truncate":
            data = data[:rule["length"]]
            length = len(data)
        self.send_head(resp.status, rh, length if self.command == "HEAD" else
                       (len(data) if action != "drop" else length))
        if action == "drop":
            self.wfile.write(data[:rule["after"]])
            self.wfile.flush()
        else:
            self.wfile.write(data)
        self.log(resp.status, action)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
srv.daemon_threads = True
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
