"""Conformance run (opt-in, not CI): the koji backend and the stand-in hub's wire answers
against a REAL koji hub built from a koji source tree you bring.

    python -m tests.conformance.koji_hub --koji-src DIR [--workdir DIR] [--keep]

What it starts, all on 127.0.0.1 and under ``--workdir``: a private PostgreSQL cluster
(Debian's ``postgresql``; run as root, the cluster belongs to the ``postgres`` user) loaded
with ``schemas/schema.sql``, and the hub (``kojihub.kojixmlrpc.application``) served by a
small threaded wsgiref server under Debian's ``/usr/bin/python3`` (needs ``python3-psycopg2
python3-rpm python3-dateutil python3-defusedxml python3-requests``). Users ``admin`` (admin
permission) and ``builder`` (none) log in with passwords over plain HTTP; tags and targets
are the matrix's bclinux7 ones.

What it checks, each against the stand-in's answer where there is one:
  1. signatures: ``tagLastChangeEvent(tag, before=None, inherit=True)``; ``repo.get``
     refuses ``include_request``; an unknown keyword is ParameterError;
  2. repo requests: ``repo.request`` as an ordinary user (fields of the request dict),
     refused anonymously; ``repo.checkRequest``;
  3. callnum: a repeated read-only call is answered, a repeated write is RetryError;
  4. the backend: a scratch build and a real build submitted (tasks created), a dependent
     build that requests a repo and submits with ``wait_builds``, a task left FREE hitting
     its deadline (no kojid runs: every task stays FREE), Ctrl-C with and without
     ``--cancel-on-interrupt`` (``cancelTask`` on the real hub);
  5. field sets of getBuild, getTaskInfo, repo.request answers: real vs stand-in.

NOT covered (no kojid/kojira are started by this script): repo generation, the build_from_srpm
policy refusal (checked by kojid), an SRPM-stage failure. Exit 0 when every check passes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")

SERVER = r'''
import io, sys, threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, WSGIRequestHandler, make_server
from kojihub.kojixmlrpc import application

class Quiet(WSGIRequestHandler):
    def log_message(self, *a):
        pass

class Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True

def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/kojifiles/"):      # httpd's job on a real hub: topurl files
        import os
        full = os.path.realpath(os.path.join(sys.argv[4], path[len("/kojifiles/"):]))
        if not full.startswith(sys.argv[4]) or not os.path.isfile(full):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(os.path.getsize(full)))])
        return [open(full, "rb").read()]
    # mod_wsgi hands the hub a body cut at Content-Length; wsgiref hands the socket
    size = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(size))
    environ["koji.hub.ConfigFile"] = sys.argv[2]
    environ["koji.hub.ConfigDir"] = sys.argv[3]
    return application(environ, start_response)

make_server("127.0.0.1", int(sys.argv[1]), app, server_class=Threaded,
            handler_class=Quiet).serve_forever()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def as_postgres(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return run(["runuser", "-u", "postgres", "--", *argv])


class RealHub:
    def __init__(self, src: Path, work: Path) -> None:
        self.src, self.work = src, work
        self.pg_port, self.port = free_port(), free_port()
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/kojihub"

    def psql(self, sql: str) -> str:
        return as_postgres([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port),
                            "-U", "postgres", "-d", "koji", "-q", "-t", "-c", sql]).stdout

    def start(self) -> None:
        pgdata = self.work / "pgdata"
        pgdata.mkdir(parents=True)
        shutil.chown(pgdata, "postgres", "postgres")
        shutil.chown(self.work, "postgres", "postgres")
        as_postgres([str(PG_BIN / "initdb"), "-D", str(pgdata), "-A", "trust", "-U", "postgres"])
        as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-l", str(pgdata / "log"),
                     "-o", f"-p {self.pg_port} -k {pgdata} -h 127.0.0.1", "-w", "start"])
        as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port),
                     "-U", "postgres", "koji"])
        schema = self.work / "schema.sql"
        shutil.copy(self.src / "schemas" / "schema.sql", schema)
        shutil.chown(schema, "postgres", "postgres")
        as_postgres([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U",
                     "postgres", "-d", "koji", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(schema)])
        for name, pw in (("admin", "adminpw"), ("builder", "secret")):
            self.psql(f"INSERT INTO users (name, password, status, usertype) "
                      f"VALUES ('{name}', '{pw}', 0, 0)")
        self.psql("INSERT INTO user_perms (user_id, perm_id, creator_id) SELECT u.id, p.id, "
                  "u.id FROM users u, permissions p WHERE u.name='admin' AND p.name='admin'")
        topdir = self.work / "kojifiles"
        for sub in ("work", "packages", "repos", "scratch"):
            (topdir / sub).mkdir(parents=True, exist_ok=True)
        conf = self.work / "hub.conf"
        conf.write_text(f"[hub]\nDBName = koji\nDBUser = postgres\nDBHost = 127.0.0.1\n"
                        f"DBPort = {self.pg_port}\nKojiDir = {topdir}\nCheckClientIP = False\n"
                        "LoginCreatesUser = False\nKojiWebURL = http://127.0.0.1/koji\n")
        (self.work / "hub.conf.d").mkdir()
        script = self.work / "server.py"
        script.write_text(SERVER)
        env = {**os.environ, "PYTHONPATH": f"{self.src}"}
        self.topdir = topdir
        self.procs.append(subprocess.Popen(
            ["/usr/bin/python3", str(script), str(self.port), str(conf),
             str(self.work / "hub.conf.d"), str(topdir)], env=env, stdout=subprocess.DEVNULL,
            stderr=open(self.work / "hub.log", "wb")))  # noqa: SIM115
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"hub did not start: {(self.work / 'hub.log').read_text()}")

    def start_daemons(self, admin: Any) -> None:
        """kojid (one host, channels default and createrepo; no mock here, so build tasks
        fail at their buildroot) and kojira (user with the repo permission)."""
        admin.addHost("builder-01", ["x86_64", "aarch64"])
        admin.addHostToChannel("builder-01", "createrepo")
        admin.createUser("kojira")
        admin.grantPermission("kojira", "repo", create=True)
        self.psql("UPDATE users SET password='hostpw' WHERE name='builder-01'")
        self.psql("UPDATE users SET password='kojirapw' WHERE name='kojira'")
        stubs = self.work / "stubs" / "multilib"
        stubs.mkdir(parents=True)
        (stubs / "__init__.py").write_text("multilib = None  # kojid imports it for mash only\n")
        Path("/etc/mock/koji").mkdir(parents=True, exist_ok=True)   # kojid's fixed path
        for sub in ("mockdir", "kojid-work"):
            (self.work / sub).mkdir(exist_ok=True)
        env = {**os.environ, "PYTHONPATH": f"{self.src}:{self.work / 'stubs'}"}
        topurl = f"http://127.0.0.1:{self.port}/kojifiles"
        kojid = self.work / "kojid.conf"
        kojid.write_text(f"[kojid]\nserver = {self.url}\nuser = builder-01\npassword = hostpw\n"
                         f"topdir = {self.topdir}\ntopurl = {topurl}\n"
                         f"workdir = {self.work / 'kojid-work'}\n"
                         f"mockdir = {self.work / 'mockdir'}\nsleeptime = 1\n"
                         "maxjobs = 4\nminspace = 1\n")
        kojira = self.work / "kojira.conf"
        kojira.write_text(f"[kojira]\nserver = {self.url}\nuser = kojira\npassword = kojirapw\n"
                          f"topdir = {self.topdir}\nsleeptime = 2\n"
                          f"logfile = {self.work / 'kojira.log'}\n")
        # kojid takes no task while the load average is over 4 per CPU; on a shared 2-CPU
        # machine other work keeps it there, so its launcher reports an idle host
        shim = self.work / "kojid-idle.py"
        shim.write_text("import os, runpy, sys\nos.getloadavg = lambda: (0.0, 0.0, 0.0)\n"
                        "sys.argv = sys.argv[1:]\n"
                        "runpy.run_path(sys.argv[0], run_name='__main__')\n")
        for argv, log in (
                (["/usr/bin/python3", str(shim), str(self.src / "builder" / "kojid"), "--fg",
                  "--force-lock", "-c", str(kojid)], "kojid.log"),
                (["/usr/bin/python3", str(self.src / "util" / "kojira"), "--fg",
                  "--force-lock", "-c", str(kojira)], "kojira.stderr")):
            self.procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                               stderr=open(self.work / log, "wb")))  # noqa: SIM115

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:    # kojid waits for its tasks: not here
                proc.kill()
                proc.wait(10)
        pgdata = self.work / "pgdata"
        if pgdata.exists():
            subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                            str(pgdata), "-m", "fast", "-w", "stop"], capture_output=True)


class Checks:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, name: str, fn: Callable[[], str]) -> None:
        try:
            detail = fn()
        except Exception as exc:  # a failed check, reported and counted
            self.failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {exc}")
        else:
            print(f"ok   {name}: {detail}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="koji_hub")
    p.add_argument("--koji-src", type=Path, required=True, help="koji source tree")
    p.add_argument("--workdir", type=Path)
    p.add_argument("--keep", action="store_true", help="keep the workdir")
    args = p.parse_args(argv)
    if not (args.koji_src / "kojihub" / "kojixmlrpc.py").is_file():
        print(f"koji_hub: {args.koji_src} is not a koji source tree", file=sys.stderr)
        return 2
    if not PG_BIN.is_dir() or os.geteuid() != 0:
        print("koji_hub: needs root and Debian's postgresql 15 (apt-get install postgresql "
              "python3-psycopg2)", file=sys.stderr)
        return 3
    sys.path.insert(0, str(ROOT))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="koji-conformance-"))
    hub = RealHub(args.koji_src.resolve(), work)
    try:
        hub.start()
        from tests.conformance import koji_checks

        failed = koji_checks.run_all(hub, work, Checks())
    finally:
        hub.stop()
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"koji_hub: {failed} check(s) failed" if failed else "koji_hub: all checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
