"""The exported calls of the stand-in hub (names and signatures as kojihub's RootExports)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import xmlrpc.client
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import koji

from .kojisim import BS, TS, Build, Repo, Task, fault_exception, iso
from .kojitasks import CHANNEL_IDS

if TYPE_CHECKING:
    from .kojihub import KojiHub

#: Methods that exist only from a hub version on.
SINCE = {"getKojiVersion": (1, 23), "repo.get": (1, 35), "repo.request": (1, 35),
         "repo.checkRequest": (1, 35), "tagLastChangeEvent": (1, 0)}

#: Calls that change hub data: only these commit the session's callnum (kojihub/auth.py
#: stores it after a commit), so a repeated callnum is refused for them and answered for the
#: read-only rest (RetryError otherwise).
WRITES = frozenset({"build", "cancelTask", "repo.request", "uploadFile", "rawUpload",
                    "login", "logout"})


class HubAPI:
    def __init__(self, hub: KojiHub) -> None:
        self.hub = hub
        self.sim = hub.sim

    def lookup(self, method: str) -> Callable[..., Any]:
        name = method.replace(".", "_")
        exported = not name.startswith("_") and name != "lookup" and \
            callable(type(self).__dict__.get(name))
        since = SINCE.get(method)
        if not exported or (since and self.sim.cfg.version_tuple < since):
            raise koji.GenericError(f"Invalid method: {method}")
        return getattr(self, name)  # type: ignore[no-any-return]

    # --- session -----------------------------------------------------------------------------

    def getAPIVersion(self) -> int:
        return koji.API_VERSION  # type: ignore[no-any-return]

    def getKojiVersion(self) -> str:
        return self.sim.cfg.version

    def login(self, user: str, password: str, opts: Any = None, renew: bool = False,
              exclusive: bool = False) -> dict[str, Any]:
        from .kojihub import Session

        if self.hub.current is not None and not renew:
            raise koji.AuthError("Already logged in")
        if self.sim.cfg.users.get(user) != password:
            raise koji.AuthError("invalid username or password")
        sess = Session(len(self.hub.sessions) + 100, secrets.token_hex(16), user)
        self.hub.sessions[sess.id] = sess
        return {"session-id": sess.id, "session-key": sess.key, "header-auth": True}

    def sslLogin(self, proxyuser: Any = None, proxyauthtype: Any = None,
                 renew: bool = False, exclusive: Any = None) -> Any:
        raise koji.AuthError("could not get user for ssl login (stand-in hub has no TLS)")

    def logout(self, session_id: int | None = None) -> None:
        sess = self.hub.require_login()
        self.hub.sessions.pop(session_id or sess.id, None)

    def getLoggedInUser(self) -> dict[str, Any] | None:
        sess = self.hub.current
        if sess is None:
            return None
        return {"id": self.sim.user_id(sess.user), "name": sess.user, "status": 0,
                "usertype": 0}

    def getChannel(self, channelInfo: Any, strict: bool = False) -> dict[str, Any] | None:
        for name, cid in CHANNEL_IDS.items():
            if channelInfo in (name, cid):
                return {"id": cid, "name": name, "description": None, "enabled": True,
                        "comment": None}
        if strict:
            raise koji.GenericError(f"No such channel: {channelInfo}")
        return None

    def listHosts(self, arches: Any = None, channelID: Any = None, ready: Any = None,
                  enabled: Any = None, userID: Any = None,
                  queryOpts: Any = None) -> list[dict[str, Any]]:
        """Hosts by channel and arch; a channel in ``dead_channels`` has none enabled."""
        dead = {CHANNEL_IDS[c] for c in self.sim.cfg.dead_channels}
        out = []
        for hid, name in sorted(self.sim.hosts.items()):
            info = self.getHost(hid)
            assert info is not None
            channels = {CHANNEL_IDS["hygon"]} if "hygon" in name else {
                CHANNEL_IDS["default"], CHANNEL_IDS["createrepo"]}
            host_arches = {"hygon": ["x86_64"], "aarch64": ["aarch64"]}.get(
                next((k for k in ("hygon", "aarch64") if k in name), ""), ["x86_64"])
            info["enabled"] = not channels & dead
            info["arches"] = " ".join(host_arches)
            if channelID is not None and channelID not in channels:
                continue
            if arches and not set(arches) & set(host_arches):
                continue
            if enabled is not None and info["enabled"] != bool(enabled):
                continue
            out.append(info)
        return out

    def getHost(self, hostInfo: Any, strict: bool = False,
                event: Any = None) -> dict[str, Any] | None:
        name = self.sim.hosts.get(hostInfo) if isinstance(hostInfo, int) else hostInfo
        if name not in self.sim.hosts.values():
            return None
        hid = next(k for k, v in self.sim.hosts.items() if v == name)
        return {"id": hid, "name": name, "arches": "x86_64 aarch64", "enabled": True,
                "ready": True, "task_load": 0.0, "capacity": 2.0}

    # --- tags, targets, builds, repos --------------------------------------------------------

    def getBuildTarget(self, info: Any, event: Any = None,
                       strict: bool = False) -> dict[str, Any] | None:
        target = self.sim.find_target(info)
        if target is None:
            if strict:
                raise koji.GenericError(f"No such build target: {info}")
            return None
        return self._target(target)

    def _target(self, t: Any) -> dict[str, Any]:
        return {"id": t.id, "name": t.name, "build_tag": t.build_tag,
                "build_tag_name": self.sim.tags[t.build_tag].name, "dest_tag": t.dest_tag,
                "dest_tag_name": self.sim.tags[t.dest_tag].name}

    def getBuildTargets(self, info: Any = None, event: Any = None,
                        buildTagID: Any = None, destTagID: Any = None,
                        queryOpts: Any = None) -> list[dict[str, Any]]:
        out = [self._target(t) for t in self.sim.targets.values()]
        return [t for t in out if (info is None or info in (t["id"], t["name"]))
                and (buildTagID is None or t["build_tag"] == buildTagID)
                and (destTagID is None or t["dest_tag"] == destTagID)]

    def getTag(self, tagInfo: Any, strict: bool = False, event: Any = None,
               blocked: bool = False) -> dict[str, Any] | None:
        tag = self.sim.find_tag(tagInfo)
        if tag is None:
            if strict:
                raise koji.GenericError(f"No such tagInfo: {tagInfo!r}")
            return None
        return {"id": tag.id, "name": tag.name, "perm_id": None, "perm": None,
                "arches": tag.arches, "locked": tag.locked, "maven_support": False,
                "maven_include_all": False, "extra": dict(tag.extra)}

    def getBuildConfig(self, tag: Any, event: Any = None) -> dict[str, Any]:
        info = self.getTag(tag, strict=True)
        assert info is not None
        for parent in self.sim.lineage(info["id"])[1:]:   # inherit arches and extra
            ptag = self.sim.tags[parent]
            info["arches"] = info["arches"] or ptag.arches
            info["extra"] = {**ptag.extra, **info["extra"]}
        return info

    def _build(self, b: Build) -> dict[str, Any]:
        """getBuild's fields (kojihub.get_build), completion/start times included."""
        done = b.create_ts if b.state != BS["BUILDING"] else None
        return {"id": b.id, "build_id": b.id, "name": b.name, "package_id": b.id,
                "package_name": b.name, "version": b.version, "release": b.release,
                "epoch": b.epoch, "nvr": b.nvr, "state": b.state, "task_id": b.task_id,
                "owner_id": self.sim.user_id(b.owner), "owner_name": b.owner,
                "volume_id": 0, "volume_name": "DEFAULT", "draft": False, "extra": None,
                "source": None, "cg_id": None, "cg_name": None,
                "creation_event_id": b.id + 1000, "creation_time": iso(b.create_ts),
                "creation_ts": b.create_ts, "start_time": iso(b.create_ts),
                "start_ts": b.create_ts, "completion_time": iso(done), "completion_ts": done,
                "promoter_id": None, "promoter_name": None, "promotion_time": None,
                "promotion_ts": None}

    def getBuild(self, buildInfo: Any, strict: bool = False) -> dict[str, Any] | None:
        for b in self.sim.builds.values():
            if buildInfo in (b.id, b.nvr):
                return self._build(b)
        if strict:
            raise koji.GenericError(f"No such build: {buildInfo}")
        return None

    def listTagged(self, tag: Any, event: Any = None, inherit: bool = False,
                   prefix: Any = None, latest: bool = False, package: Any = None,
                   owner: Any = None, type: Any = None, strict: bool = True,
                   extra: bool = False, draft: Any = None) -> list[dict[str, Any]]:
        tinfo = self.sim.tag(tag)
        out, seen = [], set()
        for lst, b in self.sim.tagged(tinfo.id, event, inherit):
            if package is not None and b.name != package:
                continue
            if latest and b.name in seen:
                continue
            seen.add(b.name)
            out.append({**self._build(b), "tag_id": lst.tag_id,
                        "tag_name": self.sim.tags[lst.tag_id].name,
                        "create_event": lst.create_event})
        return out

    def getLatestBuilds(self, tag: Any, event: Any = None, package: Any = None,
                        type: Any = None, draft: Any = None) -> list[dict[str, Any]]:
        return self.listTagged(tag, event=event, inherit=True, latest=True, package=package)

    def tagLastChangeEvent(self, tag: Any, before: Any = None,
                           inherit: bool = True) -> int:
        tid = self.sim.tag(tag).id
        return self.sim.last_change(tid, before=before, inherit=inherit)

    def _repo(self, r: Repo | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {"id": r.id, "tag_id": r.tag_id, "tag_name": self.sim.tags[r.tag_id].name,
                "create_event": r.create_event, "create_ts": r.create_ts,
                "creation_time": iso(r.create_ts), "creation_ts": r.create_ts,
                "state_time": iso(r.create_ts), "state_ts": r.create_ts,
                "begin_event": r.create_event, "begin_ts": r.create_ts,
                "end_event": None, "end_ts": None, "state": r.state, "dist": False, "opts": {
                    "src": False, "debuginfo": False, "separate_src": False},
                "custom_opts": {}, "task_id": None, "task_state": None}

    def getRepo(self, tag: Any, state: Any = None, event: Any = None,
                dist: bool = False, min_event: Any = None) -> dict[str, Any] | None:
        return self._repo(self.sim.latest_repo(self.sim.tag(tag).id, min_event))

    def repo_get(self, tag: Any, min_event: Any = None, at_event: Any = None,
                 opts: Any = None) -> dict[str, Any] | None:
        tid = self.sim.tag(tag).id
        if at_event is not None:
            repos = [r for r in self.sim.repos if r.tag_id == tid and r.create_event == at_event]
            return self._repo(repos[-1] if repos else None)
        return self._repo(self.sim.latest_repo(tid, min_event))

    def _request(self, req: Any) -> dict[str, Any] | None:
        if req is None:
            return None
        return {"id": req.id, "tag_id": req.tag_id, "tag_name": self.sim.tags[req.tag_id].name,
                "at_event": None, "min_event": req.min_event, "create_ts": req.create_ts,
                "create_time": iso(req.create_ts), "owner": req.owner,
                "owner_name": [*sorted(self.sim.cfg.users), ""][max(req.owner - 1, 0)],
                "update_time": iso(req.create_ts),
                "priority": req.priority, "task_id": req.task_id, "task_state": None,
                "tries": req.tries, "repo_id": req.repo_id, "opts": {}, "active": req.active,
                "update_ts": req.create_ts}

    def repo_request(self, tag: Any, min_event: Any = None, at_event: Any = None,
                     opts: Any = None, priority: Any = None,
                     force: bool = False) -> dict[str, Any]:
        """repos.request_repo (any logged-in user); min_event None: the tag's last change
        (a real hub may pick an older event within RepoLag)."""
        sess = self.hub.require_login()
        tid = self.sim.tag(tag).id
        if at_event is not None:
            raise koji.GenericError("at_event requests are not modelled by the stand-in")
        if min_event in (None, "last"):
            min_event = self.sim.last_change(tid)
        check = self.sim.request_repo(tid, int(min_event), self.sim.user_id(sess.user),
                                      force=bool(force))
        return {"repo": self._repo(check["repo"]), "request": self._request(check["request"]),
                "duplicate": check["duplicate"]}

    def repo_checkRequest(self, req_id: Any) -> dict[str, Any]:
        req = next((r for r in self.sim.requests if r.id == int(req_id)), None)
        if req is None:
            raise koji.GenericError("No such request")
        repo = next((r for r in self.sim.repos if r.id == req.repo_id), None)
        return {"repo": self._repo(repo), "request": self._request(req)}

    # --- tasks -------------------------------------------------------------------------------

    def build(self, src: Any, target: Any, opts: Any = None, priority: Any = None,
              channel: Any = None) -> int:
        self.hub.require_login()
        if not isinstance(src, str):
            raise koji.ParameterError(f"Invalid type for value '{src}': {type(src)}")
        if priority is not None and priority < 0:
            raise koji.ActionNotAllowed("only admins may create high-priority tasks")
        if channel is not None and channel not in CHANNEL_IDS:
            raise koji.GenericError(f"No such channel: {channel}")
        tinfo = self.sim.find_target(target)
        self.sim.build_calls.append({
            "target": target, "opts": dict(opts or {}), "channel": channel, "tick": self.sim.tick,
            "repo_nvrs": self._repo_nvrs(tinfo.build_tag) if tinfo else []})
        owner = self.sim.user_id(self.hub.require_login().user)
        task = self.sim.spawn("build", "noarch", None, [src, target, opts or {}], owner=owner,
                              channel=channel or "default", priority=20 + (priority or 0))
        return task.id

    def _repo_nvrs(self, tag_id: int) -> list[str]:
        repo = self.sim.latest_repo(tag_id)
        if repo is None:
            return []
        return [b.nvr for _, b in self.sim.tagged(tag_id, repo.create_event, inherit=True)]

    def _task(self, t: Task, request: bool) -> dict[str, Any]:
        info: dict[str, Any] = {"id": t.id, "state": t.state, "create_time": iso(t.create_ts),
                "create_ts": t.create_ts, "start_time": iso(t.start_ts), "start_ts": t.start_ts,
                "completion_time": iso(t.completion_ts), "completion_ts": t.completion_ts,
                "channel_id": t.channel_id, "host_id": t.host_id, "parent": t.parent,
                "label": t.label, "waiting": None, "awaited": None, "owner": t.owner,
                "method": t.method, "arch": t.arch, "priority": t.priority, "weight": 1.0}
        if request:
            info["request"] = t.request
        return info

    def getTaskInfo(self, task_id: Any, request: bool = False,
                    strict: bool = False) -> Any:
        if isinstance(task_id, list):
            return [self.getTaskInfo(i, request, strict) for i in task_id]
        task = self.sim.tasks.get(int(task_id))
        if task is None:
            if strict:
                raise koji.GenericError(f"No such task: {task_id}")
            return None
        return self._task(task, request)

    def getTaskChildren(self, task_id: int, request: bool = False,
                        strict: bool = False) -> list[dict[str, Any]]:
        if strict and task_id not in self.sim.tasks:
            raise koji.GenericError(f"No such task: {task_id}")
        return [self._task(t, request) for t in sorted(self.sim.tasks.values(),
                                                        key=lambda t: t.id)
                if t.parent == task_id]

    def getTaskResult(self, taskId: int, raise_fault: bool = True) -> Any:
        task = self.sim.tasks.get(taskId)
        if task is None:
            raise koji.GenericError(f"No such task: {taskId}")
        state = TS[task.state]
        if state in ("FREE", "OPEN", "ASSIGNED"):
            raise koji.GenericError(f"Task {taskId} is not finished")
        if state == "CANCELED":
            raise koji.GenericError(f"Task {taskId} is canceled")
        if state == "FAILED":
            assert task.fault is not None
            if not raise_fault:
                return {"faultCode": task.fault[0], "faultString": task.fault[1]}
            raise fault_exception(*task.fault)
        return task.result

    def listTasks(self, opts: Any = None, queryOpts: Any = None) -> list[dict[str, Any]]:
        """The subset of filters used here: method, owner, parent, state, createdAfter, decode."""
        opts = opts or {}
        out = []
        for t in sorted(self.sim.tasks.values(), key=lambda t: t.id):
            if any(key in opts and opts[key] is not None and value not in (
                    opts[key] if isinstance(opts[key], list) else [opts[key]])
                   for key, value in (("method", t.method), ("owner", t.owner),
                                      ("parent", t.parent), ("state", t.state))):
                continue
            if opts.get("createdAfter") is not None and t.create_ts <= float(opts["createdAfter"]):
                continue
            info = self._task(t, True)
            if not opts.get("decode"):
                info["request"] = xmlrpc.client.dumps(tuple(t.request), allow_none=True)
            out.append(info)
        return out

    def cancelTask(self, task_id: int, recurse: bool = True) -> None:
        self.hub.require_login()
        task = self.sim.tasks.get(task_id)
        if task is None:
            raise koji.GenericError(f"No such task: {task_id}")
        self.sim.cancel(task)

    def listTaskOutput(self, taskID: int, stat: bool = False,
                       all_volumes: bool = False, strict: bool = False) -> Any:
        task = self.sim.tasks.get(taskID)
        folder = self.sim.work / "tasks" / str(taskID % 10000) / str(taskID)
        if task is None or not folder.is_dir():
            if strict:
                raise koji.GenericError(f"Task {taskID} has no output")
            return {} if (stat or all_volumes) else []
        files = sorted(p for p in folder.iterdir() if p.is_file())
        if not stat and not all_volumes:
            return [p.name for p in files]
        out: dict[str, Any] = {}
        for p in files:
            st = p.stat()
            info = {"st_size": str(st.st_size), "st_atime": st.st_atime,
                    "st_mtime": st.st_mtime, "st_ctime": st.st_ctime}
            if stat:
                out[p.name] = {"DEFAULT": info} if all_volumes else info
            else:
                out[p.name] = ["DEFAULT"]
        return out

    def downloadTaskOutput(self, taskID: int, fileName: str, offset: int = 0,
                           size: int = -1, volume: Any = None) -> str:
        if ".." in fileName:
            raise koji.GenericError(f"Invalid file name: {fileName}")
        path = self.sim.work / "tasks" / str(taskID % 10000) / str(taskID) / fileName
        if not path.is_file():
            raise koji.GenericError(f'no file "{fileName}" output by task {taskID}')
        data = path.read_bytes()
        start = max(0, len(data) + offset) if offset < 0 else offset
        chunk = data[start:] if size == -1 else data[start:start + size]
        return base64.b64encode(chunk).decode("ascii")

    # --- uploads -------------------------------------------------------------------------------

    def checkUpload(self, path: str, name: str, verify: Any = None,
                    tail: Any = None, volume: Any = None) -> dict[str, Any] | None:
        self.hub.require_login()
        target = self.sim.work / path / name
        if not target.is_file():
            return None
        data = target.read_bytes()
        out: dict[str, Any] = {"size": len(data), "mtime": target.stat().st_mtime}
        if verify == "adler32":
            out.update(sumlength=len(data), hexdigest="%08x" % (zlib.adler32(data) & 0xFFFFFFFF))
        return out

    def uploadFile(self, path: str, name: str, size: int, md5sum: Any,
                   offset: int, data: str, volume: Any = None, checksum: Any = None) -> bool:
        """The pre-1.7 upload (base64 chunks; offset -1 finalises with a whole-file digest)."""
        target = self.hub.upload_file(path, name)
        if offset == -1:
            content = target.read_bytes() if target.exists() else b""
            return len(content) == size and hashlib.sha256(content).hexdigest() == md5sum[1]
        chunk = base64.b64decode(data)
        if len(chunk) != size or hashlib.sha256(chunk).hexdigest() != md5sum[1]:
            return False
        with target.open("r+b" if target.exists() and offset else "wb") as fh:
            fh.seek(offset)
            fh.write(chunk)
        return True


__all__ = ["BS", "HubAPI"]
