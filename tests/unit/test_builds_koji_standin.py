"""Wire fidelity of the stand-in hub (koji-mock.md sections 1-4), checked with the real koji
client and raw HTTP. No rpm tools needed: nothing here builds."""

from __future__ import annotations

import base64
import gc
import http.client
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

koji = pytest.importorskip("koji")
from tests.support.kojihub import KojiHub, setup_virt_hub, write_profile  # noqa: E402
from tests.support.kojisim import HubConfig  # noqa: E402


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[KojiHub]:
    with KojiHub(tmp_path / "hub") as h:
        setup_virt_hub(h)
        yield h


def session(hub: KojiHub, tmp_path: Path, *, login: bool = False) -> Any:
    opts = koji.read_config("standin", user_config=str(write_profile(tmp_path / "k.conf", hub)))
    s = koji.ClientSession(opts["server"], {**koji.grab_session_options(opts),
                                            "user": "builder", "password": "secret"})
    if login:
        s.login()
    return s


def raw(hub: KojiHub, method: str, body: bytes = b"",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(hub.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port)
    try:
        conn.request(method, url.path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_only_post_and_koji_version_header(hub: KojiHub) -> None:
    assert raw(hub, "GET")[0] == 405
    status, headers, body = raw(hub, "POST", xmlrpc.client.dumps((), "getAPIVersion").encode(),
                                {"Content-Type": "text/xml"})
    assert status == 200 and headers["Koji-Version"] == "1.35.3"
    assert xmlrpc.client.loads(body)[0] == (1,)
    assert raw(hub, "POST", b"<not xml", {"Content-Type": "text/xml"})[0] == 400


def test_kwargs_decoding_and_parameter_error(hub: KojiHub, tmp_path: Path) -> None:
    s = session(hub, tmp_path)
    assert s.getTag("bclinux7-virt-build", strict=True)["arches"] == "x86_64 aarch64"
    with pytest.raises(koji.ParameterError, match="unexpected keyword argument 'bogus'"):
        s.getTag("bclinux7-virt", bogus=1)
    with pytest.raises(koji.ParameterError, match="argument"):
        s.getTag()
    with pytest.raises(koji.GenericError, match="Invalid method: noSuchCall"):
        s.noSuchCall()


def test_none_i8_and_datetime_strings(hub: KojiHub, tmp_path: Path) -> None:
    s = session(hub, tmp_path, login=True)
    assert s.getBuildTarget("missing") is None
    assert s.getTaskInfo(2**40) is None                   # an <i8> argument, None back
    with pytest.raises(koji.GenericError):
        s.getTaskInfo(2**40, strict=True)
    info = s.getTaskInfo(_scratch_task(hub, s))
    assert isinstance(info["create_time"], str) and isinstance(info["create_ts"], float)
    assert koji.TASK_STATES[info["state"]] in ("FREE", "ASSIGNED")


def _scratch_task(hub: KojiHub, s: Any) -> int:
    """A build task whose SRPM does not exist (it fails asynchronously, as koji would)."""
    return int(s.build("cli-build/x/none.src.rpm", "bclinux7-virt", {"scratch": True}))


def test_async_failure_and_get_task_result(hub: KojiHub, tmp_path: Path) -> None:
    s = session(hub, tmp_path, login=True)
    tid = _scratch_task(hub, s)
    with pytest.raises(koji.GenericError, match="is not finished"):
        s.getTaskResult(tid)
    for _ in range(5):
        s.getAPIVersion()                                 # every request is one tick
    assert koji.TASK_STATES[s.getTaskInfo(tid)["state"]] == "FAILED"
    with pytest.raises(koji.GenericError, match="no such file"):
        s.getTaskResult(tid)
    assert s.getTaskResult(tid, raise_fault=False)["faultCode"] == 1000


def test_multicall_entries(hub: KojiHub, tmp_path: Path) -> None:
    s = session(hub, tmp_path)
    with s.multicall(strict=False) as m:
        ok = m.getAPIVersion()
        bad = m.getTag("x", nope=True)
        ver = m.repo.get(2)
    assert ok.result == 1 and ver.result["tag_name"] == "bclinux7-virt-build"
    with pytest.raises(koji.ParameterError):
        _ = bad.result
    assert hub.requests[-1] == "multiCall"
    assert [c.method for c in hub.calls if c.inner][-3:] == ["getAPIVersion", "getTag",
                                                             "repo.get"]


def test_injected_faults_map_to_koji_exceptions(hub: KojiHub, tmp_path: Path) -> None:
    s = session(hub, tmp_path)
    hub.inject_fault("getTag", 1, code=1)
    with pytest.raises(xmlrpc.client.Fault) as err:
        s.getTag(1)
    assert not isinstance(err.value, koji.GenericError) and err.value.faultCode == 1
    hub.controls.offline_requests = 1
    with pytest.raises(koji.ServerOffline):
        s.getTag(1)
    assert s.getTag(1)["name"] == "bclinux7-virt"


def test_login_required_for_build_and_upload(hub: KojiHub, tmp_path: Path) -> None:
    s = session(hub, tmp_path)
    with pytest.raises(koji.ActionNotAllowed, match="logged in"):
        s.build("cli-build/x/y.src.rpm", "bclinux7-virt", {})
    status, _, body = raw(hub, "POST", b"data", {"Content-Type": "application/octet-stream"})
    assert status == 200 and b"<fault>" in body and b"1004" in body
    s.login()
    assert s.getLoggedInUser()["name"] == "builder"
    s.logout()
    assert not s.logged_in


# koji 1.36 fastUpload never closes the file it uploads
@pytest.mark.filterwarnings("ignore::ResourceWarning",
                            "ignore::pytest.PytestUnraisableExceptionWarning")
def test_raw_upload_checks_and_check_upload(hub: KojiHub, tmp_path: Path) -> None:
    s = session(hub, tmp_path, login=True)
    data = tmp_path / "x.src.rpm"
    data.write_bytes(b"0123456789" * 1000)                 # 10000 bytes -> 3 chunks of 4096
    s.uploadWrapper(str(data), "cli-build/1.abc")
    assert [c.kwargs["offset"] for c in hub.calls if c.method == "rawUpload"] == [
        "0", "4096", "8192"]
    assert (hub.sim.work / "cli-build/1.abc/x.src.rpm").read_bytes() == data.read_bytes()
    assert s.checkUpload("cli-build/1.abc", "x.src.rpm")["size"] == 10000
    assert s.checkUpload("cli-build/1.abc", "missing") is None
    with pytest.raises(koji.GenericError, match="Invalid upload filename"):
        s.fastUpload(str(data), "cli-build/1.abc", name=".hidden")
    # the failed fastUpload's open file sits in a traceback cycle: collect it here, under this
    # test's ResourceWarning filter, not during some later test
    gc.collect()


def test_duplicate_callnum_is_a_retry_error_only_after_a_write(hub: KojiHub,
                                                               tmp_path: Path) -> None:
    """kojihub/auth.py stores the callnum with a commit only: a repeated callnum after a
    read-only call is answered; after a write (here cancelTask) it is RetryError."""
    s = session(hub, tmp_path, login=True)
    s.getAPIVersion()
    s.callnum -= 1                                        # replay a read-only call number
    assert s.getAPIVersion() == koji.API_VERSION
    tid = _scratch_task(hub, s)
    s.callnum -= 1                                        # replay the build() call number
    with pytest.raises(koji.RetryError):
        s.getTaskInfo(tid)


def test_download_task_output_offsets_and_stat_sizes(hub: KojiHub, tmp_path: Path) -> None:
    s = session(hub, tmp_path, login=True)
    tid = _scratch_task(hub, s)
    folder = hub.sim.task_dir(hub.sim.tasks[tid])
    (folder / "build.log").write_bytes(b"abcdefghij")
    listing = s.listTaskOutput(tid, stat=True)
    assert listing["build.log"]["st_size"] == "10"
    assert s.listTaskOutput(tid, all_volumes=True) == {"build.log": ["DEFAULT"]}
    assert s.downloadTaskOutput(tid, "build.log", offset=2, size=3) == b"cde"
    assert s.downloadTaskOutput(tid, "build.log", offset=-4) == b"ghij"
    assert s.downloadTaskOutput(tid, "build.log", offset=10, size=5) == b""
    assert base64.b64decode(s._callMethod("downloadTaskOutput", (tid, "build.log"), {})) \
        == b"abcdefghij"
    with pytest.raises(koji.GenericError, match='no file "nope" output by task'):
        s.downloadTaskOutput(tid, "nope")


def test_old_hub_has_no_header_and_no_repo_get(tmp_path: Path) -> None:
    with KojiHub(tmp_path / "hub", HubConfig(version="1.34.1")) as old:
        setup_virt_hub(old)
        s = session(old, tmp_path)
        assert s.hub_version == (1, 34, 1)
        assert "getKojiVersion" in old.requests
        with pytest.raises(koji.GenericError, match=r"Invalid method: repo\.get"):
            s.repo.get(2)
        assert s.getRepo(2)["tag_name"] == "bclinux7-virt-build"


def test_repo_regenerates_after_lag_and_events_are_honoured(tmp_path: Path) -> None:
    with KojiHub(tmp_path / "hub", HubConfig(repo_lag=3)) as h:
        setup_virt_hub(h)
        s = session(h, tmp_path)
        before = s.repo.get(2)
        with h.lock:
            h.sim.import_build("libvirt-6.2.0-1.el7", "bclinux7-virt", ["libvirt-devel"])
        assert s.repo.get(2)["id"] == before["id"]        # not yet: repo.auto has a lag
        assert [b["nvr"] for b in s.listTagged(2, inherit=True)] == ["libvirt-6.2.0-1.el7"]
        assert s.listTagged(2, inherit=True, event=before["create_event"]) == []
        assert s.listTagged(2) == []                       # only through inheritance
        for _ in range(4):
            s.getAPIVersion()
        after = s.repo.get(2)
        assert after["create_event"] > before["create_event"]
        assert [b["nvr"] for b in s.getLatestBuilds(2, event=after["create_event"])] == [
            "libvirt-6.2.0-1.el7"]


# --- issue 12: the stand-in as the real 1.35+ hub behaves ------------------------------------


def test_real_signatures_of_tag_last_change_event_and_repo_get(hub: KojiHub,
                                                               tmp_path: Path) -> None:
    s = session(hub, tmp_path)
    last = s.tagLastChangeEvent(2)                        # inherit=True by default
    assert last == s.tagLastChangeEvent(2, inherit=True)
    assert s.tagLastChangeEvent(2, before=last) < last
    with pytest.raises(koji.ParameterError, match="unexpected keyword argument 'event'"):
        s.tagLastChangeEvent(2, event=1)
    with pytest.raises(koji.ParameterError, match="include_request"):
        s.repo.get(2, include_request=True)


def test_repo_and_build_dicts_carry_the_real_fields(hub: KojiHub, tmp_path: Path) -> None:
    s = session(hub, tmp_path)
    repo = s.repo.get(2)
    assert {"creation_ts", "state_ts", "begin_ts", "end_ts", "task_state", "custom_opts",
            "dist", "opts"} <= set(repo)
    with hub.lock:
        hub.sim.import_build("libvirt-6.2.0-1.el7", "bclinux7-virt", ["libvirt"])
    build = s.getBuild("libvirt-6.2.0-1.el7")
    assert {"owner_id", "package_id", "volume_id", "completion_ts", "start_ts",
            "creation_event_id", "cg_id", "source", "promotion_ts"} <= set(build)


def test_new_tag_has_no_repo_until_requested(hub: KojiHub, tmp_path: Path) -> None:
    with hub.lock:
        tag = hub.sim.add_tag("new-build", arches="x86_64", extra={"repo.auto": True})
    s = session(hub, tmp_path, login=True)
    for _ in range(10):
        assert s.repo.get(tag.id) is None                 # never made on its own
    check = s.repo.request(tag.id)
    assert check["repo"] is None and check["request"]["active"] is True
    again = s.repo.request(tag.id)
    assert again["duplicate"] is True and again["request"]["id"] == check["request"]["id"]
    for _ in range(4):
        s.getAPIVersion()
    done = s.repo.checkRequest(check["request"]["id"])
    assert done["request"]["active"] is False and done["repo"]["tag_id"] == tag.id
    assert s.repo.get(tag.id)["id"] == done["repo"]["id"]


def test_repo_request_needs_login_and_is_missing_on_old_hubs(hub: KojiHub,
                                                             tmp_path: Path) -> None:
    with pytest.raises(koji.ActionNotAllowed, match="you must be logged in"):
        session(hub, tmp_path).repo.request(2)
    with KojiHub(tmp_path / "old", HubConfig(version="1.34.1")) as old:
        setup_virt_hub(old)
        with pytest.raises(koji.GenericError, match=r"Invalid method: repo\.request"):
            session(old, tmp_path, login=True).repo.request(2)


def test_auto_repo_waits_the_lag_but_a_request_does_not(tmp_path: Path) -> None:
    with KojiHub(tmp_path / "hub", HubConfig(repo_lag=10_000, request_ticks=3)) as h:
        setup_virt_hub(h)
        s = session(h, tmp_path, login=True)
        before = s.repo.get(2)
        with h.lock:
            h.sim.import_build("libvirt-6.2.0-1.el7", "bclinux7-virt", ["libvirt-devel"])
        for _ in range(20):
            s.getAPIVersion()
        assert s.repo.get(2)["id"] == before["id"]        # repo.auto: still inside the lag
        req = s.repo.request(2, min_event=s.tagLastChangeEvent(2))["request"]
        for _ in range(4):
            s.getAPIVersion()
        repo = s.repo.checkRequest(req["id"])["repo"]
        assert repo["create_event"] >= req["min_event"] > before["create_event"]


def test_task_in_a_channel_without_hosts_stays_free(tmp_path: Path) -> None:
    with KojiHub(tmp_path / "hub", HubConfig(dead_channels=("hygon",))) as h:
        setup_virt_hub(h)
        s = session(h, tmp_path, login=True)
        tid = int(s.build("cli-build/x/none.src.rpm", "bclinux7-virt-hygon",
                          {"scratch": True}, channel="hygon"))
        for _ in range(30):
            s.getAPIVersion()
        info = s.getTaskInfo(tid)
        assert koji.TASK_STATES[info["state"]] == "FREE" and info["host_id"] is None
        assert s.getChannel(info["channel_id"])["name"] == "hygon"
        assert s.listHosts(channelID=info["channel_id"], arches=["x86_64"], enabled=True) == []
        assert s.listHosts(channelID=1, arches=["x86_64"], enabled=True) != []
