#!/usr/bin/env python3
"""A local stand-in for the Azure Batch REST API, for blobmill's tests.

Python standard library only. It checks every request's SharedKey
signature (Batch flavour: ocp-date, api-version in the canonicalized
resource), a job-scoped bearer token it issued, or (with --cert/--key:
HTTPS) a Microsoft Entra ID token as tests/token_server.py issues them:
audience https://batch.core.windows.net/, issuer https://sts.windows.net/,
not before, not expired (401 InvalidAuthenticationToken otherwise), keeps pools, jobs, tasks
and job schedules in memory, and answers in the shapes of the Batch REST
API's published examples (odata.metadata, "value" arrays, odata.nextLink,
TaskAddCollectionResult with success/clienterror/servererror, error
bodies {"code", "message": {"lang", "value"}}).

Faults and timing are set through a control endpoint that needs no
signature (tests only):
  POST /_control  {"max_body": N,                 413 above N bytes
                   "servererror": {"TASKID": K},   K servererror results
                   "clienterror": {"TASKID": "message"},
                   "fail503": K, "retry_after": S, next K requests: 503
                   "fail503_routes": ["GET /jobs/{}/taskcounts"], only those
                   "commit_then_503": K,           add, then answer 503
                   "active_secs": S, "run_secs": S,  task timeline
                   "fail_pattern": REGEX, "fail_exit": N,  exit codes
                   "fail_retries": N,  retryCount of a failed task
                                       (its maxTaskRetryCount used up)
                   "pools": ["ID", ...],            pools that exist
                   "tokens": {"TOKEN": "JOBID"}}
  GET  /_control/stats   request counts, addtaskcollection sizes
  GET  /_control/state   jobs, tasks and schedules as stored

Usage: batch_server.py --account NAME --key BASE64 --port-file FILE
       [--pool ID]... [--page-size N] [--cert PEM --key-file PEM]
The port is chosen by the kernel and written to --port-file once the
server listens.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "2024-07-01.20.0"
JSON_TYPE = "application/json;odata=minimalmetadata"
SIGNED_HEADERS = ["content-encoding", "content-language", "content-length",
                  "content-md5", "content-type", "date", "if-modified-since",
                  "if-match", "if-none-match", "if-unmodified-since", "range"]
TASK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def now_iso(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class State:
    """Everything the service stores, guarded by one lock."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.account = args.account
        self.key = base64.b64decode(args.key)
        self.page_size = args.page_size
        self.pools = set(args.pool or [])
        self.jobs = {}       # id -> job dict (with "_tasks": {id: task})
        self.schedules = {}
        self.tokens = {}
        self.config = {"max_body": 0, "servererror": {}, "clienterror": {},
                       "fail503": 0, "retry_after": 1, "commit_then_503": 0,
                       "active_secs": 0.0, "run_secs": 0.0,
                       "fail_pattern": "", "fail_exit": 1,
                       "fail_retries": 0}
        self.stats = {"requests": {}, "addtaskcollection_sizes": [],
                      "addtaskcollection_bytes": [], "auth_failures": 0}
        self.etag = 0

    def next_etag(self):
        self.etag += 1
        return "0x8D%013X" % self.etag


def string_to_sign(method, headers, account, raw_path, query):
    lines = [method]
    for h in SIGNED_HEADERS:
        v = headers.get(h, "")
        if h == "content-length" and v == "0":
            v = ""
        lines.append(v)
    ocp = sorted((k.lower(), v.strip()) for k, v in headers.items()
                 if k.lower().startswith("ocp-"))
    canon_headers = "".join("%s:%s\n" % kv for kv in ocp)
    resource = "/" + account + raw_path
    params = {}
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        params.setdefault(k.lower(), []).append(v)
    for k in sorted(params):
        resource += "\n%s:%s" % (k, ",".join(params[k]))
    return "\n".join(lines) + "\n" + canon_headers + resource


def task_view(state, job, task, base):
    """The task as the service reports it now (state follows the clock)."""
    t = dict(task["_spec"])
    cfg = task["_cfg"]
    age = time.time() - task["_added"]
    start = task["_added"] + cfg["active_secs"]
    end = start + cfg["run_secs"]
    t["url"] = "%s/jobs/%s/tasks/%s" % (base, urllib.parse.quote(job["id"]),
                                        task["_spec"]["id"])
    t["eTag"] = task["_etag"]
    t["creationTime"] = now_iso(task["_added"])
    t["lastModified"] = t["creationTime"]
    node = {"affinityId": "TVM:tvm-1", "nodeUrl": base + "/pools/%s/nodes/"
            "tvm-1" % job["_pool"], "poolId": job["_pool"],
            "nodeId": "tvm-1",
            "taskRootDirectory": "workitems/%s/job-1/%s" % (job["id"],
                                                            t["id"])}
    node["taskRootDirectoryUrl"] = node["nodeUrl"] + "/files/" + \
        node["taskRootDirectory"]
    if age < cfg["active_secs"]:
        t["state"] = "active"
        t["executionInfo"] = {"retryCount": 0, "requeueCount": 0}
    elif age < cfg["active_secs"] + cfg["run_secs"]:
        t["state"] = "running"
        t["previousState"] = "active"
        t["executionInfo"] = {"startTime": now_iso(start), "retryCount": 0,
                              "requeueCount": 0}
        t["nodeInfo"] = node
    else:
        code = task["_exit"]
        t["state"] = "completed"
        t["previousState"] = "running"
        t["stateTransitionTime"] = now_iso(end)
        t["executionInfo"] = {"startTime": now_iso(start),
                              "endTime": now_iso(end), "exitCode": code,
                              "result": "success" if code == 0 else "failure",
                              "retryCount": task.get("_retries", 0),
                              "requeueCount": 0}
        if code:
            t["executionInfo"]["failureInfo"] = {
                "category": "UserError", "code": "FailureExitCode",
                "message": "The task exited with an exit code representing "
                           "a failure"}
        t["nodeInfo"] = node
    return t


def get_path(obj, path):
    for part in path.split("/"):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def parse_filter(text):
    """"a/b eq 'v' and c ne 'w'" -> [(path, op, value)]; ValueError else."""
    if not text:
        return []
    out = []
    for clause in re.split(r"\s+and\s+", text.strip()):
        m = re.fullmatch(r"([A-Za-z/]+)\s+(eq|ne)\s+'([^']*)'", clause.strip())
        if not m:
            raise ValueError(clause)
        out.append(m.groups())
    return out


def matches(item, clauses):
    for path, op, value in clauses:
        v = get_path(item, path)
        v = "" if v is None else str(v)
        if (v == value) != (op == "eq"):
            return False
    return True


def job_view(state, job, base):
    j = {k: v for k, v in job.items() if not k.startswith("_")}
    j["url"] = "%s/jobs/%s" % (base, urllib.parse.quote(job["id"]))
    tasks = job["_tasks"].values()
    if job["state"] == "active" and \
            j.get("onAllTasksComplete") == "terminatejob" and tasks and \
            all(task_view(state, job, t, base)["state"] == "completed"
                for t in tasks):
        job["state"] = "completed"
        j["state"] = "completed"
    j["odata.metadata"] = base + "/$metadata#jobs/@Element"
    return j


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "batch-test-server"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("batch_server: " + (fmt % args) + "\n")

    # -- replies -----------------------------------------------------------
    def reply(self, status, body=None, headers=None):
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("request-id", "00000000-0000-0000-0000-%012d"
                         % self.server.state.etag)
        if body is not None:
            self.send_header("Content-Type", JSON_TYPE)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message, values=None, headers=None):
        body = {"odata.metadata": self.base() + "/$metadata#Microsoft.Azure."
                "Batch.Protocol.Entities.Container.errors/@Element",
                "code": code,
                "message": {"lang": "en-US", "value": message +
                            "\nRequestId:00000000-0000-0000-0000-000000000000"
                            "\nTime:" + now_iso()}}
        if values:
            body["values"] = [{"key": k, "value": v} for k, v in values]
        self.reply(status, body, headers)

    def base(self):
        scheme = "https" if self.server.tls else "http"
        return scheme + "://" + self.headers.get("Host", "127.0.0.1")

    # -- authentication ------------------------------------------------------
    def authenticate(self, raw_path, query, job_id):
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] not in st.tokens and \
                auth[7:].startswith("eyJ"):
            return self.entra_token(auth[7:])
        if auth.startswith("Bearer "):
            job = st.tokens.get(auth[7:])
            if job is not None and job == job_id:
                return True
            st.stats["auth_failures"] += 1
            self.error(403, "AuthorizationFailure", "This request is not "
                       "authorized to perform this operation.")
            return False
        if not self.headers.get("ocp-date"):
            st.stats["auth_failures"] += 1
            self.error(403, "AuthenticationFailed", "Server failed to "
                       "authenticate the request. The ocp-date header is "
                       "missing.")
            return False
        headers = {k.lower(): v for k, v in self.headers.items()}
        sts = string_to_sign(self.command, headers, st.account, raw_path,
                             query)
        sig = base64.b64encode(hmac.new(st.key, sts.encode(),
                                        hashlib.sha256).digest()).decode()
        if auth != "SharedKey %s:%s" % (st.account, sig):
            st.stats["auth_failures"] += 1
            self.error(403, "AuthenticationFailed", "Server failed to "
                       "authenticate the request. Make sure the value of "
                       "Authorization header is formed correctly including "
                       "the signature.",
                       [("AuthenticationErrorDetail", "The MAC signature "
                         "found in the HTTP request is not the same as any "
                         "computed signature.")])
            return False
        return True

    def entra_token(self, token):
        """An Entra ID access token for Batch: the claims Azure checks
        (the signature is not real in tests and is not checked)."""
        st = self.server.state
        problem = None
        try:
            payload = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(
                payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError):
            claims, problem = {}, "The token is malformed."
        now = time.time()
        if problem is None and not self.server.tls:
            problem = "Bearer tokens are accepted over HTTPS only."
        if problem is None and claims.get("aud") not in (
                "https://batch.core.windows.net/",
                "https://batch.core.windows.net"):
            problem = "The audience '%s' is invalid." % claims.get("aud")
        if problem is None and not str(claims.get("iss", "")).startswith(
                "https://sts.windows.net/"):
            problem = "The issuer is invalid."
        if problem is None and not (claims.get("nbf", now + 1) <= now <
                                    claims.get("exp", 0)):
            problem = "The token is expired or not yet valid."
        if problem:
            st.stats["auth_failures"] += 1
            self.error(401, "InvalidAuthenticationToken",
                       "The access token is invalid: " + problem)
            return False
        st.stats["entra_requests"] = st.stats.get("entra_requests", 0) + 1
        return True

    # -- dispatch ------------------------------------------------------------
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        st = self.server.state
        raw_path, _, query = self.path.partition("?")
        data = self.body()
        if raw_path.startswith("/_control"):
            with st.lock:
                return self.control(raw_path, data)
        parts = [urllib.parse.unquote(p) for p in raw_path.split("/")[1:]]
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        route = self.command + " /" + "/".join(
            p if i % 2 == 0 else "{}" for i, p in enumerate(parts))
        with st.lock:
            st.stats["requests"][route] = \
                st.stats["requests"].get(route, 0) + 1
            routes = st.config.get("fail503_routes") or [route]
            if st.config["fail503"] > 0 and route in routes:
                st.config["fail503"] -= 1
                st.stats["served_503"] = st.stats.get("served_503", 0) + 1
                return self.error(503, "ServerBusy", "The server is busy.",
                                  headers={"Retry-After":
                                           str(st.config["retry_after"])})
            job_id = parts[1] if len(parts) > 1 and parts[0] == "jobs" \
                else None
            if not self.authenticate(raw_path, query, job_id):
                return
            if params.get("api-version") != API_VERSION:
                return self.error(400, "InvalidQueryParameterValue",
                                  "Value for one of the query parameters "
                                  "specified in the request URI is invalid.",
                                  [("QueryParameterName", "api-version")])
            try:
                doc = json.loads(data) if data else None
            except ValueError:
                return self.error(400, "InvalidRequestBody", "The specified "
                                  "Request Body is not syntactically valid.")
            handler = ROUTES.get(route)
            if not handler:
                return self.error(404, "ResourceNotFound", "The specified "
                                  "resource does not exist. " + route)
            return handler(self, parts, params, doc, data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any

    # -- control -------------------------------------------------------------
    def control(self, path, data):
        st = self.server.state
        if path == "/_control" and self.command == "POST":
            cfg = json.loads(data)
            for p in cfg.pop("pools", []):
                st.pools.add(p)
            st.tokens.update(cfg.pop("tokens", {}))
            st.config.update(cfg)
            return self.reply(200, st.config)
        if path == "/_control/stats":
            return self.reply(200, st.stats)
        if path == "/_control/state":
            base = self.base()
            return self.reply(200, {
                "jobs": {j: dict(job_view(st, job, base), tasks=[
                    task_view(st, job, t, base)
                    for t in job["_tasks"].values()])
                    for j, job in st.jobs.items()},
                "schedules": st.schedules})
        return self.reply(404, {"code": "NoSuchControl"})

    # -- pools ---------------------------------------------------------------
    def pool_get(self, parts, params, doc, data):
        st = self.server.state
        if parts[1] not in st.pools:
            return self.error(404, "PoolNotFound",
                              "The specified pool does not exist.")
        return self.reply(200, {"odata.metadata": self.base() +
                                "/$metadata#pools/@Element",
                                "id": parts[1], "state": "active",
                                "allocationState": "steady"})

    # -- jobs ----------------------------------------------------------------
    def new_job(self, doc):
        st = self.server.state
        pool_info = doc.get("poolInfo") or {}
        if "poolId" in pool_info:
            pool = pool_info["poolId"]
        elif "autoPoolSpecification" in pool_info:
            aps = pool_info["autoPoolSpecification"]
            pool = (aps.get("autoPoolIdPrefix") or "auto") + "_" + \
                doc["id"][:8]
        else:
            return None
        job = dict(doc)
        job.update({"state": "active", "eTag": st.next_etag(),
                    "creationTime": now_iso(), "_tasks": {}, "_pool": pool,
                    "_lower_ids": set(),
                    "executionInfo": {"startTime": now_iso(),
                                      "poolId": pool}})
        job.setdefault("onAllTasksComplete", "noaction")
        job.setdefault("onTaskFailure", "noaction")
        return job

    def job_add(self, parts, params, doc, data):
        st = self.server.state
        if not isinstance(doc, dict) or not doc.get("id"):
            return self.error(400, "MissingRequiredProperty", "A required "
                              "property was not specified in the request "
                              "body.", [("PropertyName", "id")])
        if not TASK_ID_RE.match(doc["id"]):
            return self.error(400, "InvalidPropertyValue", "The value "
                              "provided for one of the properties in the "
                              "request body is invalid.",
                              [("PropertyName", "id"),
                               ("Reason", "letters, digits, '-' and '_' "
                                "only, at most 64")])
        if doc["id"].lower() in (j.lower() for j in st.jobs):
            return self.error(409, "JobExists",
                              "The specified job already exists.")
        job = self.new_job(doc)
        if job is None:
            return self.error(400, "MissingRequiredProperty", "A required "
                              "property was not specified in the request "
                              "body.", [("PropertyName", "poolInfo")])
        st.jobs[doc["id"]] = job
        return self.reply(201, None, {
            "ETag": job["eTag"], "Location": "%s/jobs/%s" % (
                self.base(), urllib.parse.quote(doc["id"])),
            "DataServiceId": "%s/jobs/%s" % (self.base(), doc["id"])})

    def find_job(self, parts):
        job = self.server.state.jobs.get(parts[1])
        if job is None:
            self.error(404, "JobNotFound", "The specified job does not "
                       "exist.")
        return job

    def job_get(self, parts, params, doc, data):
        job = self.find_job(parts)
        if job is not None:
            self.reply(200, job_view(self.server.state, job, self.base()))

    def job_patch(self, parts, params, doc, data):
        job = self.find_job(parts)
        if job is None:
            return
        for k in ("onAllTasksComplete", "priority", "constraints",
                  "poolInfo", "metadata", "maxParallelTasks"):
            if k in (doc or {}):
                job[k] = doc[k]
        job["eTag"] = self.server.state.next_etag()
        self.reply(200, None, {"ETag": job["eTag"]})

    def task_counts(self, parts, params, doc, data):
        st = self.server.state
        job = self.find_job(parts)
        if job is None:
            return
        c = {"active": 0, "running": 0, "completed": 0, "succeeded": 0,
             "failed": 0}
        for t in job["_tasks"].values():
            v = task_view(st, job, t, self.base())
            c[v["state"]] += 1
            if v["state"] == "completed":
                c["succeeded" if v["executionInfo"]["result"] == "success"
                  else "failed"] += 1
        self.reply(200, {"odata.metadata": self.base() + "/$metadata#"
                         "Microsoft.Azure.Batch.Protocol.Entities."
                         "TaskCountsResult", "taskCounts": c,
                         "taskSlotCounts": dict(c)})

    # -- tasks ---------------------------------------------------------------
    def add_collection(self, parts, params, doc, data):
        st = self.server.state
        cfg = st.config
        st.stats["addtaskcollection_bytes"].append(len(data))
        if cfg["max_body"] and len(data) > cfg["max_body"]:
            st.stats["addtaskcollection_sizes"].append(-len(data))
            return self.error(413, "RequestBodyTooLarge", "The request body "
                              "is too large and exceeds the maximum "
                              "permissible limit.",
                              [("MaxLimit", str(cfg["max_body"]))])
        job = self.find_job(parts)
        if job is None:
            return
        if job["state"] != "active":
            return self.error(409, "JobCompleted", "The specified job is "
                              "already in a completed state.")
        tasks = (doc or {}).get("value")
        if not isinstance(tasks, list) or not tasks:
            return self.error(400, "InvalidRequestBody", "The specified "
                              "Request Body is not syntactically valid.")
        if len(tasks) > 100:
            return self.error(400, "InvalidPropertyValue", "The value provided "
                              "for one of the properties in the request "
                              "body is invalid.",
                              [("PropertyName", "value"),
                               ("Reason", "at most 100 tasks per request")])
        st.stats["addtaskcollection_sizes"].append(len(tasks))
        results = []
        base = self.base()
        for t in tasks:
            tid = t.get("id") if isinstance(t, dict) else None
            if not tid or not TASK_ID_RE.match(tid) or \
                    not t.get("commandLine"):
                results.append({"status": "clienterror", "taskId": tid or "",
                                "error": {"code": "InvalidPropertyValue",
                                          "message": {"lang": "en-US",
                                                      "value": "The task id "
                                                      "or commandLine is "
                                                      "invalid."}}})
                continue
            left = cfg["servererror"].get(tid, 0)
            if left > 0:
                cfg["servererror"][tid] = left - 1
                results.append({"status": "servererror", "taskId": tid,
                                "error": {"code": "ServerBusy", "message": {
                                    "lang": "en-US",
                                    "value": "The server is busy."}}})
                continue
            if tid in cfg["clienterror"]:
                results.append({"status": "clienterror", "taskId": tid,
                                "error": {"code": "InvalidPropertyValue",
                                          "message": {
                                              "lang": "en-US",
                                              "value": cfg["clienterror"][
                                                  tid]}}})
                continue
            if tid.lower() in job["_lower_ids"]:
                results.append({"status": "clienterror", "taskId": tid,
                                "error": {"code": "TaskExists", "message": {
                                    "lang": "en-US",
                                    "value": "The specified task already "
                                             "exists."}}})
                continue
            fail = cfg["fail_pattern"] and re.search(
                cfg["fail_pattern"], tid + " " + t["commandLine"])
            job["_lower_ids"].add(tid.lower())
            job["_tasks"][tid] = {
                "_spec": t, "_added": time.time(), "_etag": st.next_etag(),
                "_cfg": {"active_secs": cfg["active_secs"],
                         "run_secs": cfg["run_secs"]},
                "_exit": cfg["fail_exit"] if fail else 0,
                "_retries": cfg["fail_retries"] if fail else 0}
            results.append({"status": "success", "taskId": tid,
                            "eTag": job["_tasks"][tid]["_etag"],
                            "lastModified": now_iso(),
                            "location": "%s/jobs/%s/tasks/%s" % (
                                base, urllib.parse.quote(job["id"]), tid)})
        if cfg["commit_then_503"] > 0:
            cfg["commit_then_503"] -= 1
            return self.error(503, "ServerBusy", "The server is busy.",
                              headers={"Retry-After":
                                       str(cfg["retry_after"])})
        self.reply(200, {"odata.metadata": base + "/$metadata#"
                         "taskaddresult", "value": results})

    def task_list(self, parts, params, doc, data):
        st = self.server.state
        job = self.find_job(parts)
        if job is None:
            return
        try:
            clauses = parse_filter(params.get("$filter"))
        except ValueError as e:
            return self.error(400, "InvalidQueryParameterValue", "Value for "
                              "one of the query parameters specified in the "
                              "request URI is invalid.",
                              [("QueryParameterName", "$filter"),
                               ("Reason", str(e))])
        base = self.base()
        items = [task_view(st, job, t, base) for t in job["_tasks"].values()]
        items = [i for i in items if matches(i, clauses)]
        sel = params.get("$select")
        if sel:
            keep = [s.strip() for s in sel.split(",")]
            items = [{k: i[k] for k in keep if k in i} for i in items]
        page = min(int(params.get("maxresults") or 1000), st.page_size)
        skip = int(params.get("$skiptoken") or 0)
        body = {"odata.metadata": base + "/$metadata#tasks",
                "value": items[skip:skip + page]}
        if skip + page < len(items):
            q = {k: v for k, v in params.items() if k != "$skiptoken"}
            q["$skiptoken"] = str(skip + page)
            body["odata.nextLink"] = "%s/jobs/%s/tasks?%s" % (
                base, urllib.parse.quote(job["id"], safe=""),
                urllib.parse.urlencode(q, safe="$,",
                                       quote_via=urllib.parse.quote))
        self.reply(200, body)

    # -- job schedules -------------------------------------------------------
    def schedule_add(self, parts, params, doc, data):
        st = self.server.state
        if not isinstance(doc, dict) or not doc.get("id") or \
                "schedule" not in doc or "jobSpecification" not in doc:
            return self.error(400, "MissingRequiredProperty", "A required "
                              "property was not specified in the request "
                              "body.")
        if doc["id"] in st.schedules:
            return self.error(409, "JobScheduleExists", "The specified job "
                              "schedule already exists.")
        st.schedules[doc["id"]] = dict(doc, state="active",
                                       creationTime=now_iso())
        # Due now: the service makes the schedule's first job at once,
        # with its job manager task (which the test then runs itself).
        start = doc["schedule"].get("doNotRunUntil")
        if not start or start <= now_iso():
            spec = doc["jobSpecification"]
            job = self.new_job(dict(spec, id=doc["id"] + ":job-1"))
            jm = spec.get("jobManagerTask")
            if job is not None:
                st.jobs[job["id"]] = job
                if jm:
                    job["_lower_ids"].add(jm["id"].lower())
                    job["_tasks"][jm["id"]] = {
                        "_spec": jm, "_added": time.time(),
                        "_etag": st.next_etag(),
                        "_cfg": {"active_secs": 1e9, "run_secs": 0},
                        "_exit": 0}
        self.reply(201, None, {"ETag": st.next_etag()})

    def schedule_get(self, parts, params, doc, data):
        s = self.server.state.schedules.get(parts[1])
        if s is None:
            return self.error(404, "JobScheduleNotFound", "The specified "
                              "job schedule does not exist.")
        self.reply(200, dict(s, **{"odata.metadata": self.base() +
                                   "/$metadata#jobschedules/@Element"}))


ROUTES = {
    "GET /pools/{}": Handler.pool_get,
    "POST /jobs": Handler.job_add,
    "GET /jobs/{}": Handler.job_get,
    "PATCH /jobs/{}": Handler.job_patch,
    "GET /jobs/{}/taskcounts": Handler.task_counts,
    "POST /jobs/{}/addtaskcollection": Handler.add_collection,
    "GET /jobs/{}/tasks": Handler.task_list,
    "POST /jobschedules": Handler.schedule_add,
    "GET /jobschedules/{}": Handler.schedule_get,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--account", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--pool", action="append")
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--cert")
    ap.add_argument("--key-file")
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.tls = bool(args.cert)
    if srv.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key_file)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.daemon_threads = True
    srv.state = State(args)
    srv.verbose = args.verbose
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
