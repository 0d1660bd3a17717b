"""The koji backend: build one SRPM on a koji hub through the real koji client library.

What it does, in the order the koji CLI does it (``koji build``, koji 1.36):
  profile -> ``koji.read_config`` + ``ClientSession(server, grab_session_options(opts))``,
  login as ``activate_session`` picks it, ``getAPIVersion``; ``getBuildTarget``; refuse a locked
  destination tag (client-side check, like the CLI); wait until ``job.wait_for`` NVRs are in the
  *build tag*'s repo (like ``koji wait-repo TAG --build NVR``) and also pass them as
  ``wait_builds`` so the build task itself waits for a repo with them (a task not told to wait
  may pick a repo up to ``RepoLag`` old); upload the SRPM with ``uploadWrapper`` to
  ``cli-build/<ts>.<rnd>/``; ``build(src, target, opts, priority=None)``; watch the whole task
  tree with one multicall per poll; download RPMs, SRPM and logs of every buildArch task.

Secrets (password, session key, cert key) are never logged: only the profile name, the server
URL, task ids and states go to progress/commands.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.builds.builders.base import BuildJob, BuildOutcome, Progress
from pipeline.builds.builders.kojirun import KojiRun
from pipeline.builds.builders.kojisession import (
    TargetInfo,
    failed_arch_child,
    koji_module,
    logout,
    multicall_once,
    short_error,
    tail,
    unique_path,
)
from pipeline.builds.builders.kojistop import (
    DeadlineHit,
    Interrupt,
    Stopper,
    free_check,
    interrupt_lines,
)
from pipeline.builds.builders.kojiwatch import (
    Answer,
    Backoff,
    Call,
    KojiWatcher,
    WatchError,
    builds_present,
    nvr_parts,
    with_retries,
)
from pipeline.core.errors import ToolMissing


class KojiBuilder:
    """Builds on a koji hub named by a koji profile (``os.koji.profile`` in the matrix)."""

    name = "koji"

    def __init__(self, *, profile: str, config_file: Path | None = None,
                 user: str | None = None, password: str | None = None,
                 poll_interval: float | None = None, wait_timeout: float = 7200.0,
                 backoff: Backoff | None = None,
                 sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 free_deadline: float | None = 1800.0, build_deadline: float | None = None,
                 cancel_on_interrupt: bool = False) -> None:
        self.profile = profile
        self.config_file = config_file
        self._user = user
        self._password = password
        self._poll_override = poll_interval
        self.probe_retries = 2   # the login/getAPIVersion probe: fail fast on a dead hub
        self.wait_timeout = wait_timeout
        self.backoff = backoff or Backoff()
        self.stopper = Stopper()
        self.sleep = sleep or self.stopper.sleep
        self.clock = clock
        self.free_deadline = free_deadline      # a task left FREE this long: no builder
        self.build_deadline = build_deadline    # the whole watch of one build
        self.cancel_on_interrupt = cancel_on_interrupt
        self._opts: dict[str, Any] | None = None
        self._meta: Any = None
        self._meta_lock = threading.RLock()   # one session, callnums in order: one user
        self.last_watcher: KojiWatcher | None = None

    # --- session -------------------------------------------------------------------------

    def options(self) -> dict[str, Any]:
        """The profile's options (read once); ToolMissing when the profile is missing."""
        if self._opts is None:
            koji = koji_module()
            cfg = str(self.config_file) if self.config_file else None
            try:
                self._opts = dict(koji.read_config(self.profile, user_config=cfg))
            except (koji.ConfigurationError, OSError) as exc:
                where = cfg or "/etc/koji.conf(.d), ~/.koji/config(.d)"
                raise ToolMissing(f"koji profile {self.profile!r}", f"{exc} (read {where})") \
                    from exc
        return self._opts

    @property
    def poll_interval(self) -> float:
        if self._poll_override is not None:
            return self._poll_override
        value = self.options().get("poll_interval")
        return 6.0 if value is None else float(value)

    def connect(self) -> Any:
        """A new logged-in (or anonymous for ``authtype = noauth``) session."""
        koji = koji_module()
        opts = self.options()
        sopts = koji.grab_session_options(opts)
        if self._user:
            sopts["user"] = self._user
        if self._password:
            sopts["password"] = self._password
        sopts["debug_xmlrpc"] = False   # it logs session keys and request bodies (passwords)
        session = koji.ClientSession(opts["server"], sopts)
        configured = session.opts.get("max_retries", 30)
        session.opts["max_retries"] = min(configured, self.probe_retries)
        try:
            self._login(session, opts)
            session.getAPIVersion()
        except ToolMissing:
            raise
        except Exception as exc:
            raise ToolMissing(f"koji hub {opts['server']} (profile {self.profile!r})",
                              f"unreachable or login failed: {short_error(exc)}") from exc
        finally:
            session.opts["max_retries"] = configured
        return session

    def _login(self, session: Any, opts: dict[str, Any]) -> None:
        """Pick the auth method exactly as koji_cli.lib.activate_session does."""
        authtype = opts.get("authtype")
        cert = opts.get("cert") or ""
        if authtype == "noauth":
            return
        if authtype == "ssl" or (authtype is None and cert and Path(cert).is_file()):
            session.ssl_login(cert, None, opts.get("serverca"), proxyuser=None)
        elif authtype == "password" or (authtype is None and self._user):
            if not (self._user and self._password):
                raise ToolMissing(f"koji login for profile {self.profile!r}",
                                  "authtype=password needs a user and password")
            session.login()
        elif authtype in ("kerberos", None):
            kwargs: dict[str, Any] = {"proxyuser": None}
            if opts.get("principal"):
                kwargs["principal"] = opts["principal"]
                if opts.get("keytab"):
                    kwargs["keytab"] = opts["keytab"]
            session.gssapi_login(**kwargs)
        if not session.logged_in:
            raise ToolMissing(f"koji login for profile {self.profile!r}",
                              f"no authentication method worked (authtype={authtype})")

    def _metadata_session(self) -> Any:
        if self._meta is None:
            self._meta = self.connect()
        return self._meta

    # --- Builder protocol ----------------------------------------------------------------

    def check_available(self) -> None:
        with self._meta_lock:
            self._metadata_session()

    def target_info(self, session: Any, target: str) -> TargetInfo | None:
        info = self.retry(lambda: session.getBuildTarget(target))
        if info is None:
            return None
        return TargetInfo(str(info["name"]), int(info["build_tag"]), str(info["build_tag_name"]),
                          int(info["dest_tag"]), str(info["dest_tag_name"]))

    def tag_arches(self, session: Any, tag: int) -> tuple[str, ...]:
        koji = koji_module()
        cfg = self.retry(lambda: session.getBuildConfig(tag))
        return tuple(koji.canonArch(a) for a in str(cfg.get("arches") or "").split())

    def buildable_arches(self, job: BuildJob) -> tuple[str, ...]:
        with self._meta_lock:
            return self.arches_for(self._metadata_session(), job)

    def arches_for(self, session: Any, job: BuildJob) -> tuple[str, ...]:
        """``job.arches`` that the target's build tag has (koji builds only tag arches)."""
        target = self.target_info(session, job.koji_target)
        if target is None:
            return ()
        have = set(self.tag_arches(session, target.build_tag))
        return tuple(a for a in job.arches if a in have)

    def settings_fingerprint(self, job: BuildJob) -> str:
        with self._meta_lock:
            return self._fingerprint(self._metadata_session(), job)

    def _fingerprint(self, session: Any, job: BuildJob) -> str:
        target = self.target_info(session, job.koji_target)
        build_tag = target.build_tag_name if target else "?"
        arches = " ".join(self.tag_arches(session, target.build_tag)) if target else ""
        return "\n".join([
            "backend=koji", f"profile={self.profile}", f"server={self.options()['server']}",
            f"target={job.koji_target}", f"build_tag={build_tag}", f"tag_arches={arches}",
            f"arches={' '.join(self.arches_for(session, job))}",
            f"channel={job.koji_channel or ''}", f"scratch={job.scratch}",
            f"arch_override={' '.join(job.arch_override)}",
        ])

    def build(self, job: BuildJob, result_dir: Path, progress: Progress) -> BuildOutcome:
        session = self.connect()
        try:
            return KojiRun(self, session, job, result_dir, progress).run()
        finally:
            logout(session)

    def interrupt(self) -> list[str]:
        """The first Ctrl-C/SIGTERM: stop every watch at its next poll, cancel the running
        tasks when ``cancel_on_interrupt``, and say which tasks were left where."""
        self.stopper.event.set()
        cancel = self._cancel if self.cancel_on_interrupt else None
        return interrupt_lines(self.stopper, self.options().get("weburl"), cancel)

    def _cancel(self, task_id: int) -> str:
        try:
            with self._meta_lock:
                self._metadata_session().cancelTask(task_id)
        except Exception as exc:
            return f"NOT cancelled ({short_error(exc)})"
        return "cancelled"

    # --- helpers used by KojiRun -----------------------------------------------------------

    def retry(self, fn: Callable[[], Any]) -> Any:
        return with_retries(fn, backoff=self.backoff, sleep=self.sleep)

    def multicall(self, session: Any, calls: Sequence[Call]) -> list[Answer]:
        """Send ``calls`` as ONE ``multiCall`` request (retried as a whole)."""
        return list(self.retry(lambda: multicall_once(session, calls)))

    def watch(self, session: Any, roots: Sequence[int], progress: Progress,
              key: str) -> KojiWatcher:
        """Poll until every task of the trees under ``roots`` is terminal."""
        koji = koji_module()
        watcher = KojiWatcher(roots, state_name=lambda n: str(koji.TASK_STATES[n]))
        self.last_watcher = watcher
        last, faulty = "", 0
        start = self.clock()
        free_since: dict[int, float] = {}
        while True:
            if self.stopper.stopped:
                raise Interrupt(f"interrupted while watching {list(roots)}")
            calls = watcher.plan()
            watcher.absorb(calls, self.multicall(session, calls))
            if watcher.missing:
                raise WatchError(f"no such koji task(s): {sorted(watcher.missing)}")
            faulty = faulty + 1 if watcher.last_faults else 0
            if faulty >= self.backoff.tries:
                raise WatchError(f"hub faults on {faulty} polls in a row: "
                                 f"{watcher.last_faults[0]}")
            line = watcher.summary()
            if line != last:
                progress(key, line)
                last = line
            if watcher.done:
                return watcher
            now = self.clock()
            free_check(watcher, free_since, now, self.free_deadline)
            if self.build_deadline is not None and now - start >= self.build_deadline:
                raise DeadlineHit(now - start)
            self.sleep(self.backoff.delays()[faulty - 1] if faulty else self.poll_interval)


__all__ = ["KojiBuilder", "TargetInfo", "builds_present", "failed_arch_child", "nvr_parts",
           "tail", "unique_path"]


def from_options(options: object) -> KojiBuilder:
    """The registry's factory: the profile from ``--koji-profile`` or the matrix (one profile
    for every OS release), the password, if the profile uses one, from ``$KOJI_PASSWORD``
    (koji never reads it from its configuration)."""
    import os

    from pipeline.core.errors import InputError

    profile = getattr(options, "koji_profile", None)
    matrix = getattr(options, "matrix", None)
    if profile is None and matrix is not None:
        profiles = sorted({o.koji.profile for o in matrix.oses.values()})
        if len(profiles) != 1:
            raise InputError(f"the OS releases use koji profiles {profiles}: pick one with "
                             "--koji-profile and build one OS at a time")
        profile = profiles[0]
    if profile is None:
        raise InputError("no koji profile: give --koji-profile")
    free = getattr(options, "koji_free_deadline", None)
    deadline = getattr(options, "koji_deadline", None)
    return KojiBuilder(profile=str(profile), config_file=getattr(options, "koji_config", None),
                       user=os.environ.get("KOJI_USER"), password=os.environ.get("KOJI_PASSWORD"),
                       free_deadline=60.0 * free if free else 1800.0,
                       build_deadline=60.0 * deadline if deadline else None,
                       cancel_on_interrupt=bool(getattr(options, "cancel_on_interrupt", False)))
