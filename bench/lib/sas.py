#!/usr/bin/env python3
"""Print a service SAS token (no leading '?') for a container, signed with the
account key. The benchmarks use it to hand raw curl and rclone the same access
blobmill has, without a second signing implementation in shell.

usage: sas.py ACCOUNT KEY-BASE64 CONTAINER PERMISSIONS [HOURS]
"""
import base64
import datetime
import hashlib
import hmac
import sys
import urllib.parse

VERSION = "2021-08-06"


def service_sas(account, key_b64, container, perms, hours=24):
    expiry = (datetime.datetime.now(datetime.timezone.utc)
              + datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # String-to-sign for service SAS, version 2020-12-06 and later.
    fields = [perms, "", expiry, f"/blob/{account}/{container}", "", "", "",
              VERSION, "c", "", "", "", "", "", "", ""]
    sig = base64.b64encode(hmac.new(base64.b64decode(key_b64),
                                    "\n".join(fields).encode(),
                                    hashlib.sha256).digest()).decode()
    q = [("sv", VERSION), ("se", expiry), ("sr", "c"), ("sp", perms),
         ("sig", sig)]
    return urllib.parse.urlencode(q, quote_via=urllib.parse.quote, safe="")


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__.strip())
    print(service_sas(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4],
                      int(sys.argv[5]) if len(sys.argv) > 5 else 24))
