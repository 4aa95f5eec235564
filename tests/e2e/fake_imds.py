"""A stand-in for EC2's instance metadata service (IMDSv2), for the tests:
moto has none with roles.  Usage: fake_imds.py PORT ROLE KEY_ID SECRET LOG

Every metadata GET needs the session token from PUT /latest/api/token
(401 without it, as IMDSv2 answers); ROLE "" plays an instance without a
role (404).  Each request is appended to LOG as "METHOD PATH TOKEN-OK".
"""
import datetime
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, ROLE, KEY_ID, SECRET, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
TOKEN = "imds-session-token-1"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def note(self, ok):
        with open(LOG, "a") as f:
            f.write(f"{self.command} {self.path} {'token' if ok else 'no-token'}\n")

    def answer(self, status, body, kind="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        ok = self.path == "/latest/api/token" and self.headers.get(
            "X-aws-ec2-metadata-token-ttl-seconds")
        self.note(bool(ok))
        self.answer(200 if ok else 400, TOKEN if ok else "")

    def do_GET(self):
        ok = self.headers.get("X-aws-ec2-metadata-token") == TOKEN
        self.note(ok)
        if not ok:
            return self.answer(401, "")
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == "/latest/meta-data/placement/region":
            return self.answer(200, "us-east-1")
        if not ROLE:
            return self.answer(404, "")
        if self.path == base:
            return self.answer(200, ROLE + "\n")
        if self.path == base + ROLE:
            until = datetime.datetime.utcnow() + datetime.timedelta(hours=1)
            return self.answer(200, json.dumps({
                "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": KEY_ID,
                "SecretAccessKey": SECRET, "Expiration": until.strftime("%Y-%m-%dT%H:%M:%SZ")}),
                "application/json")
        self.answer(404, "")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
