#!/usr/bin/env python3
"""A second Blob client for the CLI's integration tests, independent of
libblobmill: Python's standard library only (hmac, http.client), with its
own service-SAS signing and its own URL encoding, so a bug shared by the
CLI's reading and writing paths cannot hide itself.

Account, key and endpoint come from AZURE_STORAGE_ACCOUNT,
AZURE_STORAGE_ACCESS_KEY and AZURE_STORAGE_BLOB_ENDPOINT (as
tests/lib/azurite.sh exports them). Blob names are arguments; `list` ends
each name with NUL, so any name survives.

  azblob.py sas CONTAINER [PERMS]        a container SAS token (no '?')
  azblob.py get CONTAINER NAME          blob bytes to stdout
  azblob.py put CONTAINER NAME FILE     Put Blob from FILE
  azblob.py list CONTAINER              names, each ending in NUL
  azblob.py populate CONTAINER PREFIX N [PARALLEL]
                                        N empty blobs PREFIX000000..., by
                                        curl --parallel (keep-alive)
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import os
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET

SAS_VERSION = "2018-11-09"


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit("azblob.py: %s is not set" % name)
    return value


ACCOUNT = env("AZURE_STORAGE_ACCOUNT")
KEY = base64.b64decode(env("AZURE_STORAGE_ACCESS_KEY"))
ENDPOINT = urllib.parse.urlsplit(env("AZURE_STORAGE_BLOB_ENDPOINT"))


def container_sas(container, perms="racwdl"):
    """Service SAS for a container (signedResource c), version 2018-11-09."""
    expiry = (datetime.datetime.now(datetime.timezone.utc) +
              datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resource = "/blob/%s/%s" % (ACCOUNT, container)
    # sp, st, se, resource, si, sip, spr, sv, sr, snapshot time,
    # rscc, rscd, rsce, rscl, rsct
    fields = [perms, "", expiry, resource, "", "", "", SAS_VERSION, "c", "",
              "", "", "", "", ""]
    sig = base64.b64encode(hmac.new(KEY, "\n".join(fields).encode(),
                                    hashlib.sha256).digest()).decode()
    return urllib.parse.urlencode({"sv": SAS_VERSION, "se": expiry,
                                   "sr": "c", "sp": perms, "sig": sig})


def blob_path(container, name=None):
    path = ENDPOINT.path.rstrip("/") + "/" + container
    if name is not None:
        # Everything but RFC 3986's unreserved characters and '/'.
        path += "/" + urllib.parse.quote(name, safe="/-._~")
    return path


def connect():
    return http.client.HTTPConnection(ENDPOINT.hostname, ENDPOINT.port,
                                      timeout=60)


def request(conn, method, path, sas, body=None, headers=None, query=""):
    hdrs = {"x-ms-version": SAS_VERSION}
    hdrs.update(headers or {})
    url = path + "?" + (query + "&" if query else "") + sas
    conn.request(method, url, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status // 100 != 2:
        raise RuntimeError("%s %s: %d %s" % (method, path, resp.status,
                                             data[:300]))
    return data


def cmd_sas(container, perms="racwdl"):
    print(container_sas(container, perms))


def cmd_get(container, name):
    data = request(connect(), "GET", blob_path(container, name),
                   container_sas(container))
    sys.stdout.buffer.write(data)


def cmd_put(container, name, path):
    with open(path, "rb") as f:
        data = f.read()
    request(connect(), "PUT", blob_path(container, name),
            container_sas(container), body=data,
            headers={"x-ms-blob-type": "BlockBlob"})


def cmd_list(container):
    conn = connect()
    sas = container_sas(container)
    marker = ""
    while True:
        query = "restype=container&comp=list"
        if marker:
            query += "&marker=" + urllib.parse.quote(marker, safe="")
        root = ET.fromstring(request(conn, "GET", blob_path(container), sas,
                                     query=query))
        for blob in root.iter("Blob"):
            sys.stdout.buffer.write(blob.findtext("Name").encode() + b"\0")
        marker = root.findtext("NextMarker") or ""
        if not marker:
            break


def cmd_populate(container, prefix, count, parallel=32):
    """Empty blobs through `curl --parallel`: Python's own HTTP client
    costs more CPU per request than Azurite does, and the two share the
    machine."""
    sas = container_sas(container)
    base = "%s://%s%s" % (ENDPOINT.scheme, ENDPOINT.netloc,
                          blob_path(container))
    lines = ['request = "PUT"', 'header = "x-ms-blob-type: BlockBlob"',
             'header = "x-ms-version: %s"' % SAS_VERSION, 'data-binary = ""',
             "silent", "show-error", "fail"]
    for i in range(count):
        name = urllib.parse.quote("%s%06d" % (prefix, i), safe="/-._~")
        lines.append('url = "%s/%s?%s"' % (base, name, sas))
        lines.append('output = "/dev/null"')
    config = "\n".join(lines) + "\n"
    done = subprocess.run(["curl", "--no-progress-meter", "--parallel",
                           "--parallel-max", str(parallel), "--config", "-"],
                          input=config.encode())
    if done.returncode:
        raise RuntimeError("curl exited with %d while populating %s"
                           % (done.returncode, container))


def main(argv):
    cmds = {"sas": (cmd_sas, 1), "get": (cmd_get, 2), "put": (cmd_put, 3), "list": (cmd_list, 1),
            "populate": (cmd_populate, 3)}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    fn, nargs = cmds[argv[1]]
    args = argv[2:]
    try:
        run(fn, nargs, argv, args)
    except (RuntimeError, OSError) as e:
        sys.exit("azblob.py: %s" % e)


def run(fn, nargs, argv, args):
    if argv[1] == "populate":
        if len(args) not in (3, 4):
            sys.exit(__doc__)
        fn(args[0], args[1], int(args[2]), *[int(a) for a in args[3:]])
        return
    if argv[1] == "sas" and len(args) == 2:
        nargs = 2
    if len(args) != nargs:
        sys.exit(__doc__)
    fn(*args)


if __name__ == "__main__":
    main(sys.argv)
