#!/usr/bin/env python3
"""Fill a container with many small blobs fast, for the benchmarks: one
HTTP/1.1 keep-alive connection per worker thread, Put Blob with a SAS.

usage: populate.py ENDPOINT CONTAINER SAS PREFIX COUNT SIZE [THREADS]
Blob names are PREFIX + f%06d; contents are SIZE bytes, distinct per blob.
"""
import http.client
import sys
import threading
import urllib.parse


def worker(endpoint, container, sas, prefix, size, indices, errors):
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    for i in indices:
        body = (b"%06d" % i) * (size // 6 + 1)
        body = body[:size]
        path = "%s/%s/%sf%06d?%s" % (u.path, container,
                                    urllib.parse.quote(prefix), i, sas)
        for attempt in range(3):
            try:
                conn.request("PUT", path, body=body,
                             headers={"x-ms-blob-type": "BlockBlob",
                                      "Content-Length": str(len(body))})
                r = conn.getresponse()
                r.read()
                if r.status == 201:
                    break
                errors.append("%d: HTTP %d" % (i, r.status))
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port,
                                                  timeout=60)
        else:
            errors.append("%d: connection failed" % i)
    conn.close()


def main():
    if len(sys.argv) < 7:
        sys.exit(__doc__.strip())
    endpoint, container, sas, prefix = sys.argv[1:5]
    count, size = int(sys.argv[5]), int(sys.argv[6])
    nthreads = int(sys.argv[7]) if len(sys.argv) > 7 else 16
    errors = []
    threads = [threading.Thread(target=worker,
                                args=(endpoint, container, sas, prefix, size,
                                      range(t, count, nthreads), errors))
               for t in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("populate: %d uploads failed, first: %s" % (len(errors),
                                                            errors[0]))


if __name__ == "__main__":
    main()
