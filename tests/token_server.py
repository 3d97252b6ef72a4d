#!/usr/bin/env python3
"""A local stand-in for Microsoft Entra ID's token endpoints, for blobmill's
tests: the parts that cannot be reached from a test machine.

Python standard library only (and the openssl command, to check certificate
assertions). It plays:
  - the instance metadata service (IMDS protocol):
      GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R
          [&client_id=|&object_id=|&msi_res_id=]   header "Metadata: true"
  - App Service's identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER):
      GET /msi/token?api-version=2019-08-01&resource=R
          [&client_id=|&principal_id=|&mi_res_id=]  header X-IDENTITY-HEADER
  - App Service 2017 (MSI_ENDPOINT + MSI_SECRET):
      GET /msi2017/token?api-version=2017-09-01&resource=R[&clientid=]
          header "secret"; expires_on as "MM/DD/YYYY HH:MM:SS +00:00"
  - the authority (client credentials, v2.0):
      POST /TENANT/oauth2/v2.0/token  grant_type=client_credentials,
          client_id, scope=R/.default and client_secret, or client_assertion
          (a certificate's RS256 JWT, checked: signature, x5t, aud, iss,
          sub, exp; or a workload identity's federated token, compared with
          the file's content)
  - the az CLI's token (the fake `az` in tests calls it):
      GET /az?resource=R  -> {"accessToken", "expiresOn", "expires_on", ...}
Tokens are JWTs whose claims Azurite's `--oauth basic` checks (aud = the
resource, iss = https://sts.windows.net/TENANT/, nbf/iat/exp); their
signature is not real (Azurite does not check one). Success and error
bodies have the shapes Entra ID documents ({"access_token", "expires_in",
...}; {"error", "error_description"}).

Every issued token is logged, one JSON line per token, to --log (kind,
identity parameter used, resource, exp); the log never holds a token.

Control (tests only): POST /_control with JSON
  {"fail": N, "fail_status": 500}  the next N token requests fail
  {"audience": "https://..."}     tokens carry this aud instead
  {"lifetime": S}                  token lifetime in seconds
GET /_control/stats  -> {"issued": N, "failed": N}

Usage: token_server.py --port-file FILE --cert CERT --key KEY --log FILE
       [--lifetime S] [--tenant T] [--identity CLIENT,OBJECT,RESOURCE]...
       [--client-id ID --client-secret S] [--client-cert PEM]
       [--federated-token-file F] [--identity-header H] [--msi-secret S]
Two listeners: plain HTTP (IMDS, App Service: their protocols are http)
and HTTPS (the authority); --port-file gets "HTTP_PORT HTTPS_PORT".
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
STATE = {"fail": 0, "fail_status": 500, "audience": None, "lifetime": 60,
         "issued": 0, "failed": 0}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def make_token(resource, subject):
    now = int(time.time())
    with LOCK:
        aud = STATE["audience"] or resource
        life = STATE["lifetime"]
    claims = {"aud": aud, "iss": "https://sts.windows.net/%s/" % ARGS.tenant,
              "iat": now, "nbf": now - 60, "exp": now + life,
              "oid": subject, "sub": subject, "tid": ARGS.tenant,
              "jti": b64url(os.urandom(12))}
    header = {"alg": "RS256", "typ": "JWT", "kid": "blobmill-test"}
    token = "%s.%s.%s" % (b64url(json.dumps(header).encode()),
                          b64url(json.dumps(claims).encode()),
                          b64url(os.urandom(64)))
    return token, now + life, life


def log_issue(kind, who, resource, exp):
    with LOCK:
        STATE["issued"] += 1
        with open(ARGS.log, "a") as f:
            f.write(json.dumps({"kind": kind, "identity": who,
                                "resource": resource, "exp": exp}) + "\n")


def find_identity(param, value):
    """The identity a managed-identity request names, or None."""
    for ident in ARGS.identity:
        client, obj, res = ident.split(",")
        if (param in ("client_id", "clientid") and value == client) or \
           (param in ("object_id", "principal_id") and value == obj) or \
           (param in ("msi_res_id", "mi_res_id") and value.lower() == res.lower()):
            return client
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the log file says enough
        pass

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def oauth_error(self, status, code, desc):
        self.send_json(status, {"error": code, "error_description": desc})

    def injected_failure(self):
        with LOCK:
            if STATE["fail"] > 0:
                STATE["fail"] -= 1
                STATE["failed"] += 1
                status = STATE["fail_status"]
            else:
                return False
        self.send_json(status, {"error": "server_error",
                                "error_description": "injected failure"})
        return True

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---- managed identity ----------------------------------------------
    def managed_identity(self, kind, q, id_params):
        version = {"imds": "2018-02-01", "appservice": "2019-08-01",
                   "appservice2017": "2017-09-01"}[kind]
        if q.get("api-version") != version:
            return self.oauth_error(400, "invalid_request",
                                    "api-version %s expected" % version)
        if kind == "imds" and self.headers.get("Metadata") != "true":
            return self.oauth_error(400, "invalid_request",
                                    "Required metadata header not specified")
        if kind == "appservice" and \
           self.headers.get("X-IDENTITY-HEADER") != ARGS.identity_header:
            return self.oauth_error(401, "invalid_request",
                                    "X-IDENTITY-HEADER is missing or wrong")
        if kind == "appservice2017" and \
           self.headers.get("secret") != ARGS.msi_secret:
            return self.oauth_error(401, "invalid_request",
                                    "secret header is missing or wrong")
        resource = q.get("resource")
        if not resource:
            return self.oauth_error(400, "invalid_request",
                                    "resource is required")
        given = [p for p in id_params if p in q]
        if len(given) > 1:
            return self.oauth_error(400, "invalid_request",
                                    "only one identity parameter")
        who = "system"
        if given:
            who = find_identity(given[0], q[given[0]])
            if who is None:
                return self.oauth_error(400, "invalid_request",
                                        "Identity not found")
            who = "%s=%s" % (given[0], q[given[0]])
        if self.injected_failure():
            return None
        token, exp, life = make_token(resource, who)
        log_issue(kind, who, resource, exp)
        body = {"access_token": token, "resource": resource,
                "token_type": "Bearer"}
        if kind == "appservice2017":
            body["expires_on"] = datetime.datetime.fromtimestamp(
                exp, datetime.timezone.utc).strftime("%m/%d/%Y %H:%M:%S +00:00")
        elif kind == "appservice":
            body["expires_on"] = exp  # a number, as App Service sends it
        else:
            body["expires_in"] = str(life)  # strings, as IMDS sends them
            body["expires_on"] = str(exp)
        return self.send_json(200, body)

    # ---- the authority ---------------------------------------------------
    def check_cert_assertion(self, assertion, token_url):
        try:
            h, p, s = assertion.split(".")
            header = json.loads(b64url_decode(h))
            claims = json.loads(b64url_decode(p))
        except ValueError:
            return "AADSTS50027: malformed assertion"
        with open(ARGS.client_cert, "rb") as f:
            pem = f.read()
        der = ssl.PEM_cert_to_DER_cert(pem.decode())
        if header.get("alg") != "RS256" or \
           header.get("x5t") != b64url(hashlib.sha1(der).digest()):
            return "AADSTS700027: x5t does not match the certificate"
        now = time.time()
        if claims.get("aud") != token_url or \
           claims.get("iss") != ARGS.client_id or \
           claims.get("sub") != ARGS.client_id or \
           not claims.get("exp", 0) > now or \
           not claims.get("nbf", now + 1) <= now + 300:
            return "AADSTS700024: assertion claims are not valid"
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "in"), "w") as f:
                f.write(h + "." + p)
            with open(os.path.join(d, "sig"), "wb") as f:
                f.write(b64url_decode(s))
            pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout",
                                  "-in", ARGS.client_cert],
                                 capture_output=True, check=True).stdout
            with open(os.path.join(d, "pub"), "wb") as f:
                f.write(pub)
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify",
                                os.path.join(d, "pub"), "-signature",
                                os.path.join(d, "sig"),
                                os.path.join(d, "in")], capture_output=True)
            if r.returncode != 0:
                return "AADSTS700027: signature verification failed"
        return None

    def authority(self, tenant):
        form = dict(urllib.parse.parse_qsl(self.read_body().decode()))
        if tenant != ARGS.tenant:
            return self.oauth_error(400, "invalid_request",
                                    "AADSTS90002: Tenant '%s' not found"
                                    % tenant)
        if form.get("grant_type") != "client_credentials":
            return self.oauth_error(400, "unsupported_grant_type",
                                    "AADSTS70003: grant_type")
        if form.get("client_id") != ARGS.client_id:
            return self.oauth_error(400, "unauthorized_client",
                                    "AADSTS700016: Application with "
                                    "identifier '%s' was not found"
                                    % form.get("client_id"))
        scope = form.get("scope", "")
        if not scope.endswith("/.default"):
            return self.oauth_error(400, "invalid_scope",
                                    "AADSTS1002012: scope must end in "
                                    "/.default")
        resource = scope[:-len(".default")]
        token_url = "https://127.0.0.1:%d/%s/oauth2/v2.0/token" % (
            self.server.server_address[1], tenant)
        kind = None
        if "client_secret" in form:
            if form["client_secret"] != ARGS.client_secret:
                return self.oauth_error(401, "invalid_client",
                                        "AADSTS7000215: Invalid client "
                                        "secret provided.")
            kind = "secret"
        elif form.get("client_assertion_type") == \
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            a = form.get("client_assertion", "")
            fed = None
            if ARGS.federated_token_file:
                with open(ARGS.federated_token_file) as f:
                    fed = f.read().strip()
            if fed and a == fed:
                kind = "workload"
            elif ARGS.client_cert:
                problem = self.check_cert_assertion(a, token_url)
                if problem:
                    return self.oauth_error(401, "invalid_client", problem)
                kind = "certificate"
            else:
                return self.oauth_error(401, "invalid_client",
                                        "AADSTS700024: Client assertion "
                                        "is not valid")
        else:
            return self.oauth_error(401, "invalid_client",
                                    "AADSTS7000218: client_assertion or "
                                    "client_secret is required")
        if self.injected_failure():
            return None
        token, exp, life = make_token(resource, ARGS.client_id)
        log_issue(kind, ARGS.client_id, resource, exp)
        return self.send_json(200, {"token_type": "Bearer",
                                    "expires_in": life,
                                    "ext_expires_in": life,
                                    "access_token": token})

    def az(self, q):
        resource = q.get("resource")
        if self.injected_failure():
            return None
        token, exp, _ = make_token(resource, "az-user")
        log_issue("azcli", "az-user", resource, exp)
        local = datetime.datetime.fromtimestamp(exp).strftime(
            "%Y-%m-%d %H:%M:%S.000000")
        return self.send_json(200, {"accessToken": token, "expiresOn": local,
                                    "expires_on": exp,
                                    "subscription": "0000",
                                    "tenant": ARGS.tenant,
                                    "tokenType": "Bearer"})

    # ---- dispatch -------------------------------------------------------
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/metadata/identity/oauth2/token":
            return self.managed_identity(
                "imds", q, ["client_id", "object_id", "msi_res_id"])
        if u.path == "/msi/token":
            return self.managed_identity(
                "appservice", q, ["client_id", "principal_id", "mi_res_id"])
        if u.path == "/msi2017/token":
            return self.managed_identity("appservice2017", q, ["clientid"])
        if u.path == "/az":
            return self.az(q)
        if u.path == "/_control/stats":
            with LOCK:
                return self.send_json(200, {"issued": STATE["issued"],
                                            "failed": STATE["failed"]})
        return self.oauth_error(404, "not_found", "no such endpoint")

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.strip("/").split("/")
        if u.path == "/_control":
            change = json.loads(self.read_body() or b"{}")
            with LOCK:
                STATE.update(change)
            return self.send_json(200, {"ok": True})
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return self.authority(parts[0])
        self.read_body()
        return self.oauth_error(404, "not_found", "no such endpoint")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--lifetime", type=int, default=60)
    ap.add_argument("--tenant", default="72f988bf-86f1-41af-91ab-2d7cd011db47")
    ap.add_argument("--identity", action="append", default=[])
    ap.add_argument("--client-id", default="")
    ap.add_argument("--client-secret", default="")
    ap.add_argument("--client-cert", default="")
    ap.add_argument("--federated-token-file", default="")
    ap.add_argument("--identity-header", default="")
    ap.add_argument("--msi-secret", default="")
    ARGS = ap.parse_args()
    STATE["lifetime"] = ARGS.lifetime
    plain = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for srv in (plain, tls):
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (plain.server_address[1], tls.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
