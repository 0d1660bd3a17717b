"""A stand-in koji hub for tests: real XML-RPC over HTTP on 127.0.0.1, driven by the real koji
client library. Wire behaviour follows koji-mock.md sections 1-4 (koji 1.35.3+/1.36 hub):

* POST only (405 otherwise), ``Koji-Version`` header (hubs >= 1.35), faults as HTTP 200
  ``<fault>`` bodies, 400 for unparsable bodies; ``allow_none`` both ways, ``<i8>`` (koji's
  marshaller), datetimes as ``isoformat(' ')`` strings with ``*_ts`` floats.
* ``__starstar`` kwargs decoded; unknown kwargs / wrong arity -> ParameterError (1019) carrying
  the TypeError text; unknown method -> GenericError "Invalid method: X"; koji fault codes.
* ``multiCall`` (and ``system.multicall``): ``[result]`` or ``{faultCode, faultString}`` per call.
* Sessions: ``login`` (password) with ``header-auth``, session headers, callnum checks
  (RetryError 1009 / SequenceError 1008), ``logout(session_id=None)``. ``sslLogin`` answers
  on ``/ssllogin`` but the client rewrites http->https before calling it, so SSL and GSSAPI
  logins are NOT exercised over this plain-HTTP stand-in.
* ``rawUpload`` octet-stream POSTs (adler32, offset, overwrite, directory owner, name checks)
  + ``checkUpload``; legacy ``uploadFile``.
* Fault injection: ``inject_fault(method, count, code)``, ``offline_requests`` (fault 1014),
  ``http_errors`` (HTTP 503 answers, retried by the client).
"""

from __future__ import annotations

import inspect
import secrets
import subprocess
import threading
import traceback
import xmlrpc.client
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import koji
from koji.xmlrpcplus import dumps

from .kojiapi import WRITES, HubAPI
from .kojisim import HubConfig
from .kojitasks import KojiSim


@dataclass
class CallRecord:
    tick: int
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    inner: bool            # inside a multiCall
    user: str | None


@dataclass
class Session:
    id: int
    key: str
    user: str
    callnum: int | None = None
    expired: bool = False


@dataclass
class FaultRule:
    method: str
    count: int
    code: int = 1
    message: str = "injected hub error"


@dataclass
class HubControls:
    """Knobs the tests turn (all applied under the hub lock)."""

    faults: list[FaultRule] = field(default_factory=list)
    offline_requests: int = 0
    http_errors: int = 0
    drop_responses: dict[str, int] = field(default_factory=dict)  # method -> count: the call
    # runs, then the connection is closed unanswered (a lost response)


class KojiHub:
    """``with KojiHub(tmp_path) as hub: hub.url`` -> ``http://127.0.0.1:PORT/kojihub``."""

    def __init__(self, topdir: Path, config: HubConfig | None = None) -> None:
        self.sim = KojiSim(topdir, config or HubConfig())
        self.controls = HubControls()
        self.calls: list[CallRecord] = []
        self.requests: list[str] = []        # top-level requests (one per HTTP POST)
        self.http_files: list[tuple[str, str]] = []   # (GET|HEAD, path) under /kojifiles/
        self.sessions: dict[int, Session] = {}
        self.current: Session | None = None
        self.pending_callnum: int | None = None
        self.wrote = False
        self.lock = threading.RLock()
        self.api = HubAPI(self)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> KojiHub:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.hub = self  # type: ignore[attr-defined]
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,),
                                        name="kojihub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> KojiHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/kojihub"

    def inject_fault(self, method: str, count: int, code: int = 1,
                     message: str = "injected hub error") -> None:
        with self.lock:
            self.controls.faults.append(FaultRule(method, count, code, message))

    def methods_called(self, *, inner: bool | None = None) -> list[str]:
        return [c.method for c in self.calls if inner is None or c.inner == inner]

    # --- XML-RPC ---------------------------------------------------------------------------------

    def handle_rpc(self, path: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            if self.controls.http_errors > 0:
                self.controls.http_errors -= 1
                return 503, b"Service Unavailable (injected)"
            try:
                params, method = xmlrpc.client.loads(body)
            except Exception:
                return 400, b"Bad Request: unparsable XML-RPC body"
            self.sim.advance()
            self.requests.append(str(method))
            try:
                if path.endswith("/ssllogin") != (method == "sslLogin"):
                    raise koji.GenericError(f"method {method} not allowed at {path}")
                self.current = self.authenticate(headers, str(method))
                self.wrote = False
                result = self.dispatch(str(method), params, inner=False)
                self.commit_callnum()
                if self.controls.drop_responses.get(str(method), 0) > 0:
                    self.controls.drop_responses[str(method)] -= 1
                    return 0, b""
                return 200, dumps((result,), methodresponse=1, allow_none=1).encode()
            except Exception as exc:
                return 200, dumps(as_fault(exc), methodresponse=1).encode()

    def authenticate(self, headers: Any, method: str) -> Session | None:
        sid = headers.get("Koji-Session-Id")
        if sid is None:
            return None
        sess = self.sessions.get(int(sid))
        if sess is None or not secrets.compare_digest(sess.key,
                                                      headers.get("Koji-Session-Key", "")):
            raise koji.AuthError("Invalid Session ID or key")
        if sess.expired:
            raise koji.AuthExpired(f"session {sess.id} expired")
        callnum = headers.get("Koji-Session-Callnum")
        if callnum is not None:
            num = int(callnum)
            if sess.callnum is not None and sess.callnum > num:
                raise koji.SequenceError(f"{sess.callnum} > {num} (session {sess.id})")
            if sess.callnum is not None and sess.callnum == num:
                raise koji.RetryError(f"unable to retry call {num} (method {method}) for "
                                      f"session {sess.id}")
            self.pending_callnum = num
        return sess

    def commit_callnum(self) -> None:
        """kojihub stores the callnum only with a commit: after calls that wrote data."""
        if self.current is not None and self.wrote and self.pending_callnum is not None:
            self.current.callnum = self.pending_callnum
        self.pending_callnum = None

    def dispatch(self, method: str, params: tuple[Any, ...], *, inner: bool) -> Any:
        if self.controls.offline_requests > 0 and not inner:
            self.controls.offline_requests -= 1
            raise koji.ServerOffline("server is offline")
        self.check_injected(method)
        args, kwargs = koji.decode_args(*params)
        user = self.current.user if self.current else None
        self.calls.append(CallRecord(self.sim.tick, method, tuple(args), dict(kwargs), inner,
                                     user))
        if method in ("multiCall", "system.multicall"):
            if inner:
                raise koji.GenericError("nested multicall not allowed")
            return self.multicall(*args, **kwargs)
        func = self.api.lookup(method)
        if method in WRITES:
            self.wrote = True
        try:
            inspect.signature(func).bind(*args, **kwargs)
        except TypeError as exc:
            raise koji.ParameterError(f"{method}() {exc}") from None
        return func(*args, **kwargs)

    def check_injected(self, method: str) -> None:
        for rule in self.controls.faults:
            if rule.count > 0 and rule.method in (method, "*"):
                rule.count -= 1
                raise xmlrpc.client.Fault(rule.code, f"{rule.message} ({method})")

    def multicall(self, calls: list[dict[str, Any]]) -> list[Any]:
        results: list[Any] = []
        for call in calls:
            try:
                results.append([self.dispatch(call["methodName"], tuple(call["params"]),
                                              inner=True)])
            except Exception as exc:
                fault = as_fault(exc)
                entry: dict[str, Any] = {"faultCode": fault.faultCode,
                                         "faultString": fault.faultString}
                if not isinstance(exc, koji.GenericError):
                    entry["traceback"] = traceback.format_exc()
                results.append(entry)
        return results

    # --- rawUpload -------------------------------------------------------------------------------

    def handle_upload(self, path: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            self.sim.advance()
            self.requests.append("rawUpload")
            try:
                self.current = self.authenticate(headers, "rawUpload")
                self.check_injected("rawUpload")
                q = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
                self.calls.append(CallRecord(self.sim.tick, "rawUpload", (), dict(q), False,
                                             self.current.user if self.current else None))
                result = self.raw_upload(q, body)
                self.wrote = True
                self.commit_callnum()
                return 200, dumps((result,), methodresponse=1, allow_none=1).encode()
            except Exception as exc:
                return 200, dumps(as_fault(exc), methodresponse=1).encode()

    def raw_upload(self, q: dict[str, str], chunk: bytes) -> dict[str, Any]:
        self.require_login()
        target = self.upload_file(q["filepath"], q["filename"])
        offset = int(q.get("offset", "0"))
        if offset == 0 and target.exists() and q.get("overwrite") != "1":
            raise koji.GenericError(f"upload path exists: {q['filepath']}/{q['filename']}")
        if q.get("fileverify", "adler32") != "adler32":
            raise koji.GenericError(f"unsupported checksum type: {q['fileverify']}")
        mode = "r+b" if target.exists() and offset else "wb"
        with target.open(mode) as fh:
            fh.seek(offset)
            fh.write(chunk)
        return {"size": len(chunk), "fileverify": "adler32", "offset": offset,
                "hexdigest": "%08x" % (zlib.adler32(chunk) & 0xFFFFFFFF)}

    def require_login(self) -> Session:
        if self.current is None:
            raise koji.ActionNotAllowed("you must be logged in for this operation")
        return self.current

    def upload_file(self, path: str, name: str) -> Path:
        """get_upload_path: name/dir checks and the directory owner (``.user``)."""
        if "/" in name or name.startswith("."):
            raise koji.GenericError(f"Invalid upload filename: {name}")
        if not path or path.startswith("..") or path.startswith("/") or "/../" in path:
            raise koji.GenericError(f"Invalid upload directory: {path}")
        folder = self.sim.work / path
        folder.mkdir(parents=True, exist_ok=True)
        owner = folder / ".user"
        user = self.require_login().user
        if owner.exists() and owner.read_text(encoding="utf-8") != user:
            raise koji.GenericError("Invalid upload directory, not owner")
        owner.write_text(user, encoding="utf-8")
        return folder / name

    def serve_file(self, rel: str, verb: str) -> bytes | None:
        """A file under the hub's topdir for ``topurl`` (``work/tasks/N/ID/f``), or None."""
        with self.lock:
            self.http_files.append((verb, rel))
            path = (self.sim.top / rel).resolve()
            if self.sim.top.resolve() not in path.parents or not path.is_file():
                return None
            return path.read_bytes()

    @property
    def topurl(self) -> str:
        return self.url.rsplit("/", 1)[0] + "/kojifiles"


def as_fault(exc: BaseException) -> xmlrpc.client.Fault:
    if isinstance(exc, xmlrpc.client.Fault):
        return exc
    if isinstance(exc, koji.GenericError):
        return xmlrpc.client.Fault(exc.faultCode, str(exc))
    return xmlrpc.client.Fault(getattr(exc, "faultCode", 1), f"{type(exc).__name__}: {exc}")


def _range_start(header: str | None) -> int:
    if header and header.startswith("bytes=") and header.endswith("-"):
        return int(header[len("bytes="):-1])
    return 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True    # else each small answer waits ~40 ms for a delayed ACK

    def do_POST(self) -> None:
        hub: KojiHub = self.server.hub  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Type", "").startswith("application/octet-stream"):
            status, payload = hub.handle_upload(self.path, self.headers, body)
        else:
            status, payload = hub.handle_rpc(urlsplit(self.path).path, self.headers, body)
        if status == 0:                   # injected lost response: hang up without answering
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", "text/xml" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        if hub.sim.cfg.version_tuple >= (1, 35):
            self.send_header("Koji-Version", hub.sim.cfg.version)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._files(body=True)

    def do_HEAD(self) -> None:
        self._files(body=False)

    def _files(self, *, body: bool) -> None:
        """``topurl`` files under /kojifiles/ (httpd's job on a real hub), with Range."""
        hub: KojiHub = self.server.hub  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        if not path.startswith("/kojifiles/"):
            self._not_allowed()
            return
        data = hub.serve_file(path[len("/kojifiles/"):], self.command)
        if data is None:
            self.send_error(404)
            return
        start = _range_start(self.headers.get("Range"))
        status = 206 if start else 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if body:
            self.wfile.write(data[start:])

    def _not_allowed(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def log_message(self, format: str, *args: Any) -> None:
        pass


def setup_virt_hub(hub: KojiHub, *, arches: str = "x86_64 aarch64",
                   repo_auto: bool = True) -> None:
    """Tags and targets like the bclinux7 ones: ``bclinux7-virt`` (dest) inherited by
    ``bclinux7-virt-build`` (build tag, ``repo.auto``, dist .el7), a Hygon target on an
    x86_64-only build tag, and a target whose dest tag is locked."""
    sim = hub.sim
    with hub.lock:
        sim.add_tag("bclinux7-virt", arches=None)
        extra = {"repo.auto": repo_auto, "rpm.macro.dist": ".el7"}
        sim.add_tag("bclinux7-virt-build", arches=arches, extra=extra, parents=["bclinux7-virt"])
        sim.add_tag("bclinux7-virt-hygon-build", arches="x86_64", extra=extra,
                    parents=["bclinux7-virt"])
        sim.add_tag("bclinux7-frozen", arches=None, locked=True)
        sim.add_target("bclinux7-virt", "bclinux7-virt-build", "bclinux7-virt")
        sim.add_target("bclinux7-virt-hygon", "bclinux7-virt-hygon-build", "bclinux7-virt")
        sim.add_target("bclinux7-frozen", "bclinux7-virt-build", "bclinux7-frozen")
        for name in ("bclinux7-virt-build", "bclinux7-virt-hygon-build"):
            sim.new_repo(sim.tag(name).id)


def write_profile(path: Path, hub: KojiHub, *, profile: str = "standin",
                  authtype: str = "password", poll_interval: int = 0,
                  topurl: bool = False) -> Path:
    """A koji client config with test-friendly retry settings (koji-mock.md 1.6)."""
    top = f"topurl = {hub.topurl}\n" if topurl else ""
    path.write_text(
        f"[{profile}]\nserver = {hub.url}\nweburl = http://127.0.0.1/koji\n{top}"
        f"authtype = {authtype}\nmax_retries = 2\nretry_interval = 0\nanon_retry = true\n"
        f"timeout = 60\nauth_timeout = 30\npoll_interval = {poll_interval}\n"
        "use_fast_upload = true\nupload_blocksize = 4096\n", encoding="utf-8")
    return path


def make_srpm(folder: Path, name: str, spec_text: str) -> Path:
    """A source RPM built with ``rpmbuild -bs`` from ``spec_text`` (dist ``.el7``) in ``folder``:
    what the koji benchmark and the conformance run submit."""
    spec = folder / f"{name}.spec"
    spec.write_text(spec_text, encoding="utf-8")
    subprocess.run(["rpmbuild", "-bs", "--define", f"_topdir {folder / 'top'}",
                    "--define", "dist .el7", str(spec)], check=True, capture_output=True)
    (srpm,) = (folder / "top" / "SRPMS").glob("*.src.rpm")
    return srpm
