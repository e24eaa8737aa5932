#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# A fake Kubernetes API server for Nodes only (list, get, watch, patch, create, delete), for the tests.
#
# Speaks the real protocol as kubectl and client-go see it: HTTPS, bearer tokens or client
# certificates, NodeList with metadata.resourceVersion, watch streams (chunked lines of
# {"type": ..., "object": ...}, bookmarks, "410 Gone" for an expired resourceVersion), JSON merge
# and strategic-merge patches, Status objects for errors, and the discovery documents kubectl reads.
# Standard library only.
#
# Usage:
#   fake_kube.py certs DIR IP...          test CA (ca.crt/ca.key), server cert for IP..., and a client
#                                         cert (client.crt/client.key, CN from $CLIENT_CN or "xwg-node")
#   fake_kube.py serve --listen ADDR:PORT --cert F --key F --ca F [--token T]... --admin ADDR:PORT
#                      [--ready FILE] [--bookmark-interval S] [--audit FILE]
# The admin endpoint (plain HTTP, for the test only):
#   GET  /admin/nodes                     every Node (a NodeList)
#   PUT  /admin/nodes/NAME                create or replace a Node (body: the object)
#   PATCH /admin/nodes/NAME               JSON merge patch
#   DELETE /admin/nodes/NAME
#   POST /admin/cut?when=now|next         every open watch stream gets half an event line, then is closed
#                                         (now: at once; next: on its next event)
#   POST /admin/stop?seconds=N            the API port stops answering (closed, connections dropped)
#   POST /admin/start                     ... and answers again (also after N seconds by itself)
#   POST /admin/expire?gone=event|http    history forgotten: every open watch is closed and a resume
#                                         from an older resourceVersion gets 410 (ERROR event or HTTP)
#   GET  /admin/stats                     {"watches": open streams, "rv": ..., "requests": n}
#   GET  /admin/audit                     every API request: [{"user","verb","resource","path","code"}]
import copy
import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HISTORY_MAX = 1000


def status(code, reason, message, name=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": reason, "code": code}
    if name is not None:
        st["details"] = {"name": name, "kind": "nodes"}
    return st


def merge_patch(target, patch):
    """RFC 7386; for a Node's maps (annotations, labels) strategic merge does the same."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if k.startswith("$"):		# strategic-merge directives ($patch, $retainKeys): not needed here
            continue
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class Store:
    """Nodes, the resourceVersion counter, the event history and the open watch streams."""

    def __init__(self):
        self.cond = threading.Condition()
        self.nodes = {}
        self.rv = 100
        self.floor = 100		# a watch may resume from any resourceVersion >= floor
        self.history = []		# (rv, type, object)
        self.watchers = {}		# id -> {"cut": None|"now"|"next", "close": bool}
        self.gone_mode = "event"
        self.requests = 0
        self.audit = []

    def _event(self, etype, obj):
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if etype != "DELETED":
            self.nodes[obj["metadata"]["name"]] = obj
        else:
            self.nodes.pop(obj["metadata"]["name"], None)
        self.history.append((self.rv, etype, obj))
        if len(self.history) > HISTORY_MAX:
            del self.history[0]
            self.floor = self.history[0][0] - 1
        self.cond.notify_all()
        return obj

    def put(self, name, obj):
        """Create or replace. Returns (code, object)."""
        with self.cond:
            obj = copy.deepcopy(obj)
            obj.setdefault("apiVersion", "v1")
            obj.setdefault("kind", "Node")
            md = obj.setdefault("metadata", {})
            md["name"] = name
            old = self.nodes.get(name)
            if old:
                md["uid"] = old["metadata"]["uid"]
                md["creationTimestamp"] = old["metadata"]["creationTimestamp"]
                return 200, self._event("MODIFIED", obj)
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 201, self._event("ADDED", obj)

    def create(self, obj):
        name = obj.get("metadata", {}).get("name")
        if not name:
            return 422, status(422, "Invalid", "Node \"\" is invalid: metadata.name: Required value")
        with self.cond:
            if name in self.nodes:
                return 409, status(409, "AlreadyExists", f'nodes "{name}" already exists', name)
            return self.put(name, obj)

    def patch(self, name, patch):
        with self.cond:
            old = self.nodes.get(name)
            if old is None:
                return 404, status(404, "NotFound", f'nodes "{name}" not found', name)
            if not isinstance(patch, dict):
                return 400, status(400, "BadRequest", "the patch is not a JSON object")
            want = patch.get("metadata", {}).get("resourceVersion") if isinstance(patch.get("metadata"), dict) else None
            if want is not None and want != old["metadata"]["resourceVersion"]:
                return 409, status(409, "Conflict", f'Operation cannot be fulfilled on nodes "{name}": '
                                   "the object has been modified; please apply your changes to the latest "
                                   "version and try again", name)
            new = merge_patch(old, patch)
            new["metadata"]["name"] = name
            new["metadata"]["uid"] = old["metadata"]["uid"]
            if new == old:		# the real server writes nothing (and keeps the version) for a no-op
                return 200, copy.deepcopy(old)
            return 200, self._event("MODIFIED", new)

    def delete(self, name):
        with self.cond:
            old = self.nodes.get(name)
            if old is None:
                return 404, status(404, "NotFound", f'nodes "{name}" not found', name)
            self._event("DELETED", old)
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                         "details": {"name": name, "kind": "nodes", "uid": old["metadata"]["uid"]}}

    def node_list(self, name=None):
        with self.cond:
            items = [copy.deepcopy(n) for k, n in sorted(self.nodes.items()) if name is None or k == name]
            return {"kind": "NodeList", "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    def expire(self, gone):
        with self.cond:
            self.history = []
            self.floor = self.rv
            self.gone_mode = gone
            for w in self.watchers.values():
                w["close"] = True
            self.cond.notify_all()

    def cut(self, when):
        with self.cond:
            for w in self.watchers.values():
                w["cut"] = when
            self.cond.notify_all()


STORE = Store()
API = None			# the ApiServer
TOKENS = set()
BOOKMARK_INTERVAL = 5.0
AUDIT_FILE = None


def api_resources():
    verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
        {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node", "verbs": verbs,
         "shortNames": ["no"]},
        {"name": "nodes/status", "singularName": "", "namespaced": False, "kind": "Node",
         "verbs": ["get", "patch", "update"]}]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_kube: %s %s\n" % (self.address_string(), fmt % args))

    # -- plumbing

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(body)
        self.record(code)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def user(self):
        """The authenticated user, or None: a verified client certificate, else a known bearer token."""
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            cert = conn.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            return "cert:" + v
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:].strip() in TOKENS:
            return "token:" + auth[7:].strip()[:8]
        return None

    def record(self, code):
        if getattr(self, "_recorded", True):
            return
        self._recorded = True
        entry = {"user": self._user, "verb": self._verb, "resource": self._resource,
                 "path": self.path, "code": code}
        with STORE.cond:
            STORE.audit.append(entry)
        if AUDIT_FILE:
            with open(AUDIT_FILE, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def route(self, method):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        parts = [p for p in url.path.split("/") if p]
        self._recorded = False
        self._user = self.user()
        self._resource = ""
        self._verb = method.lower()
        with STORE.cond:
            STORE.requests += 1
        if self._user is None:
            self._verb = "-"
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        if parts[:3] == ["api", "v1", "nodes"] and len(parts) <= 4:
            self._resource = "nodes"
            name = parts[3] if len(parts) == 4 else None
            return self.nodes(method, name, q)
        if method != "GET":
            return self.send_json(405, status(405, "MethodNotAllowed", "the server does not allow this method"))
        self._verb = "get"
        docs = {"/version": {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake", "platform": "linux/amd64"},
                "/api": {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_addr()}]},
                "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
                "/api/v1": api_resources(),
                "/healthz": None, "/readyz": None, "/livez": None}
        path = url.path.rstrip("/") or "/"
        if path in docs:
            if docs[path] is None:
                return self.send_text(200, "ok")
            return self.send_json(200, docs[path])
        return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))

    def server_addr(self):
        host, port = self.connection.getsockname()[:2]
        return f"{host}:{port}"

    def send_text(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.record(code)

    # -- /api/v1/nodes

    def nodes(self, method, name, q):
        if method == "GET" and name is None:
            sel = q.get("fieldSelector", "")
            only = None
            if sel.startswith("metadata.name="):
                only = sel.split("=", 1)[1]
            elif sel:
                return self.send_json(400, status(400, "BadRequest", f'field label not supported: "{sel}"'))
            if q.get("watch") in ("1", "true"):
                self._verb = "watch"
                return self.watch(q, only)
            self._verb = "list"
            return self.send_json(200, STORE.node_list(only))
        if method == "GET":
            self._verb = "get"
            with STORE.cond:
                n = STORE.nodes.get(name)
                n = copy.deepcopy(n) if n else None
            if n is None:
                return self.send_json(404, status(404, "NotFound", f'nodes "{name}" not found', name))
            return self.send_json(200, n)
        if method == "PATCH" and name:
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
            body = self.read_body()
            if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                return self.send_json(415, status(415, "UnsupportedMediaType",
                                                  f"the body of the request was in an unknown format - accepted media "
                                                  f"types include: application/merge-patch+json, "
                                                  f"application/strategic-merge-patch+json (got {ctype!r})"))
            try:
                patch = json.loads(body)
            except ValueError as e:
                return self.send_json(400, status(400, "BadRequest", f"error decoding patch: {e}"))
            return self.send_json(*STORE.patch(name, patch))
        if method == "POST" and name is None:
            self._verb = "create"
            try:
                obj = json.loads(self.read_body())
            except ValueError as e:
                return self.send_json(400, status(400, "BadRequest", f"error decoding body: {e}"))
            return self.send_json(*STORE.create(obj if isinstance(obj, dict) else {}))
        if method == "DELETE" and name:
            self.read_body()
            return self.send_json(*STORE.delete(name))
        self.read_body()
        return self.send_json(405, status(405, "MethodNotAllowed", "the server does not allow this method"))

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, q, only):
        rv = q.get("resourceVersion", "")
        deadline = time.monotonic() + float(q.get("timeoutSeconds") or 1800)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        wid = object()
        with STORE.cond:
            gone = False
            if rv in ("", "0"):
                last = STORE.rv
                pending = [("ADDED", copy.deepcopy(n)) for _, n in sorted(STORE.nodes.items())]
            else:
                try:
                    last = int(rv)
                except ValueError:
                    return self.send_json(400, status(400, "BadRequest", f"invalid resourceVersion {rv!r}"))
                gone = last < STORE.floor
                pending = []
            if gone and STORE.gone_mode == "http":
                return self.send_json(410, status(410, "Expired", f"too old resource version: {rv} ({STORE.floor})"))
            STORE.watchers[wid] = {"cut": None, "close": False}
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.record(200)
        try:
            if gone:
                self.line({"type": "ERROR", "object": status(410, "Expired",
                                                            f"too old resource version: {rv} ({STORE.floor})")})
            else:
                self.stream(wid, last, pending, only, bookmarks, deadline)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass
        finally:
            with STORE.cond:
                STORE.watchers.pop(wid, None)
        self.close_connection = True

    def line(self, event):
        self.chunk(json.dumps(event).encode() + b"\n")

    def stream(self, wid, last, pending, only, bookmarks, deadline):
        next_bm = time.monotonic() + BOOKMARK_INTERVAL
        for etype, obj in pending:
            self.line({"type": etype, "object": obj})
        while True:
            with STORE.cond:
                while True:
                    w = STORE.watchers[wid]
                    if last < STORE.floor or w["close"]:
                        return
                    events = [e for e in STORE.history if e[0] > last]
                    now = time.monotonic()
                    if events or w["cut"] == "now" or now >= deadline or (bookmarks and now >= next_bm):
                        break
                    STORE.cond.wait(min(deadline, next_bm if bookmarks else deadline) - now)
                cut = w["cut"] == "now" or (w["cut"] == "next" and events)
                if cut:
                    w["cut"] = None
                    obj = events[0][2] if events else next(iter(STORE.nodes.values()), {"metadata": {}})
                    data = json.dumps({"type": events[0][1] if events else "MODIFIED", "object": obj}).encode()
                rv_now = STORE.rv
            if cut:
                self.chunk(data[:len(data) // 2])
                self.connection.shutdown(socket.SHUT_RDWR)
                raise OSError("cut")
            for erv, etype, obj in events:
                last = erv
                if only is None or obj["metadata"]["name"] == only:
                    self.line({"type": etype, "object": obj})
            if time.monotonic() >= deadline:
                return
            if bookmarks and time.monotonic() >= next_bm:
                last = max(last, rv_now)
                self.line({"type": "BOOKMARK", "object": {"kind": "Node", "apiVersion": "v1",
                                                          "metadata": {"resourceVersion": str(last)}}})
                next_bm = time.monotonic() + BOOKMARK_INTERVAL

    def do_GET(self):
        self.route("GET")

    def do_PATCH(self):
        self.route("PATCH")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def do_PUT(self):
        self.read_body()
        self.route("PUT")


class TLSServer(ThreadingHTTPServer):
    """TLS per connection in the connection's own thread, so a slow handshake blocks nobody."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ctx):
        self.ctx = ctx
        self.conns = set()
        self.lock = threading.Lock()
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            request = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            sys.stderr.write(f"fake_kube: TLS handshake from {client_address[0]}: {e}\n")
            return
        request.settimeout(None)
        with self.lock:
            self.conns.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self.lock:
                self.conns.discard(request)

    def drop_all(self):
        with self.lock:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class ApiServer:
    """The API port: can be stopped (closed, every connection dropped) and started again."""

    def __init__(self, addr, ctx):
        self.addr, self.ctx = addr, ctx
        self.srv = None
        self.lock = threading.Lock()
        self.timer = None

    def start(self):
        with self.lock:
            if self.timer:
                self.timer.cancel()
                self.timer = None
            if self.srv:
                return
            for _ in range(50):
                try:
                    self.srv = TLSServer(self.addr, self.ctx)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise OSError(f"cannot listen on {self.addr}")
            self.addr = self.srv.server_address[:2]
            threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self, seconds):
        with self.lock:
            srv, self.srv = self.srv, None
        if srv:
            srv.shutdown()
            srv.server_close()
            srv.drop_all()
            with STORE.cond:
                STORE.cond.notify_all()
        if seconds > 0:
            with self.lock:
                self.timer = threading.Timer(seconds, self.start)
                self.timer.daemon = True
                self.timer.start()


class AdminHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw) if raw.strip() else {}

    def handle_admin(self, method):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        parts = [p for p in url.path.split("/") if p]
        try:
            body = self.body()
        except ValueError as e:
            return self.reply(400, {"error": str(e)})
        if parts == ["admin", "nodes"] and method == "GET":
            return self.reply(200, STORE.node_list())
        if len(parts) == 3 and parts[:2] == ["admin", "nodes"]:
            name = parts[2]
            if method == "PUT":
                return self.reply(*STORE.put(name, body))
            if method == "PATCH":
                return self.reply(*STORE.patch(name, body))
            if method == "DELETE":
                return self.reply(*STORE.delete(name))
        if parts == ["admin", "cut"] and method == "POST":
            STORE.cut(q.get("when", "now"))
            return self.reply(200, {"cut": q.get("when", "now")})
        if parts == ["admin", "stop"] and method == "POST":
            API.stop(float(q.get("seconds", "0")))
            return self.reply(200, {"stopped": True})
        if parts == ["admin", "start"] and method == "POST":
            API.start()
            return self.reply(200, {"started": True})
        if parts == ["admin", "expire"] and method == "POST":
            STORE.expire(q.get("gone", "event"))
            return self.reply(200, {"floor": STORE.floor})
        if parts == ["admin", "stats"] and method == "GET":
            with STORE.cond:
                return self.reply(200, {"watches": len(STORE.watchers), "rv": STORE.rv,
                                        "requests": STORE.requests, "up": API.srv is not None})
        if parts == ["admin", "audit"] and method == "GET":
            with STORE.cond:
                return self.reply(200, list(STORE.audit))
        return self.reply(404, {"error": f"no such admin call: {method} {url.path}"})

    def do_GET(self):
        self.handle_admin("GET")

    def do_PUT(self):
        self.handle_admin("PUT")

    def do_PATCH(self):
        self.handle_admin("PATCH")

    def do_POST(self):
        self.handle_admin("POST")

    def do_DELETE(self):
        self.handle_admin("DELETE")


def hostport(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d, ips):
    """A test CA, a server certificate for the IPs, and a client certificate (CN $CLIENT_CN)."""
    os.makedirs(d, exist_ok=True)
    p = lambda f: os.path.join(d, f)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=fake-kube-ca", "-keyout", p("ca.key"), "-out", p("ca.crt"),
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    san = ",".join(["DNS:localhost", "DNS:kubernetes.default.svc"] + [f"IP:{ip}" for ip in ips])
    for name, cn, ext in (("server", "kube-apiserver", f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n"),
                          ("client", os.environ.get("CLIENT_CN", "xwg-node"), "extendedKeyUsage=clientAuth\n")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={cn}",
                "-keyout", p(f"{name}.key"), "-out", p(f"{name}.csr"))
        with open(p(f"{name}.ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" + ext)
        openssl("x509", "-req", "-in", p(f"{name}.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", p(f"{name}.ext"), "-out", p(f"{name}.crt"))
    for f in os.listdir(d):
        if f.endswith(".key"):
            os.chmod(p(f), 0o600)


def serve(argv):
    global API, BOOKMARK_INTERVAL, AUDIT_FILE
    opts = {"--token": []}
    it = iter(argv)
    for a in it:
        v = next(it, None)
        if v is None:
            sys.exit(f"fake_kube: {a} needs a value")
        if a == "--token":
            opts["--token"].append(v)
        else:
            opts[a] = v
    for need in ("--listen", "--cert", "--key", "--ca", "--admin"):
        if need not in opts:
            sys.exit(f"fake_kube: serve needs {need}")
    TOKENS.update(opts["--token"])
    BOOKMARK_INTERVAL = float(opts.get("--bookmark-interval", "5"))
    AUDIT_FILE = opts.get("--audit")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts["--cert"], opts["--key"])
    ctx.load_verify_locations(opts["--ca"])
    ctx.verify_mode = ssl.CERT_OPTIONAL		# a certificate, if sent, must chain to the CA
    API = ApiServer(hostport(opts["--listen"]), ctx)
    API.start()
    admin = ThreadingHTTPServer(hostport(opts["--admin"]), AdminHandler)
    admin.daemon_threads = True
    if "--ready" in opts:
        tmp = opts["--ready"] + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"api": "%s:%d" % API.addr, "admin": "%s:%d" % admin.server_address[:2]}, f)
        os.rename(tmp, opts["--ready"])
    admin.serve_forever()


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "certs":
        make_certs(sys.argv[2], sys.argv[3:])
        return 0
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
        return 0
    sys.stderr.write("usage: fake_kube.py certs DIR IP... | serve --listen A:P --cert F --key F --ca F "
                     "[--token T]... --admin A:P [--ready FILE] [--bookmark-interval S] [--audit FILE]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
