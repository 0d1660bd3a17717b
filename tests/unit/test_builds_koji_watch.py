"""The pure koji helpers: watcher planning, retry/backoff, NVR checks, auth selection."""

from __future__ import annotations

import xmlrpc.client
from pathlib import Path
from typing import Any

import pytest

from pipeline.builds.builders.kojiwatch import (
    TASK_STATE_NAMES,
    Answer,
    Backoff,
    Call,
    KojiWatcher,
    builds_present,
    fault_code,
    nvr_parts,
    retryable,
    with_retries,
)


def task(tid: int, state: str, method: str = "buildArch", arch: str = "x86_64",
         parent: int | None = 1) -> dict[str, Any]:
    number = {v: k for k, v in TASK_STATE_NAMES.items()}[state]
    return {"id": tid, "state": number, "method": method, "arch": arch, "parent": parent,
            "label": arch}


def answer_poll(w: KojiWatcher, infos: dict[int, dict[str, Any]],
                children: dict[int, list[dict[str, Any]]]) -> list[Call]:
    calls = w.plan()
    answers = [Answer(value=infos.get(c.args[0]) if c.method == "getTaskInfo"
                      else children.get(c.args[0], [])) for c in calls]
    w.absorb(calls, answers)
    return calls


def test_plan_asks_info_then_children_for_each_open_task() -> None:
    w = KojiWatcher([7])
    assert w.plan() == [Call("getTaskInfo", (7,)), Call("getTaskChildren", (7,))]


def test_children_are_discovered_and_terminal_tasks_dropped_from_the_plan() -> None:
    w = KojiWatcher([1])
    parent_open = task(1, "OPEN", "build", "noarch", None)
    answer_poll(w, {1: parent_open}, {1: [task(2, "OPEN"), task(3, "CLOSED", arch="aarch64")]})
    assert sorted(w.tasks) == [1, 2, 3] and not w.done
    calls = w.plan()
    assert [c.args[0] for c in calls] == [1, 1, 2, 2]          # task 3 is CLOSED: not asked
    answer_poll(w, {1: parent_open, 2: task(2, "CLOSED")}, {1: [task(2, "CLOSED")]})
    assert not w.done
    answer_poll(w, {1: task(1, "CLOSED", "build", "noarch", None)}, {})
    assert w.done and w.polls == 3
    assert [t.id for t in w.children(1)] == [2, 3]


def test_assigned_is_not_terminal_even_though_its_number_is_4() -> None:
    w = KojiWatcher([1])
    answer_poll(w, {1: task(1, "ASSIGNED", parent=None)}, {})
    assert w.tasks[1].state == "ASSIGNED" and not w.done
    answer_poll(w, {1: task(1, "CANCELED", parent=None)}, {})
    assert w.done


def test_a_child_seen_only_through_the_parent_keeps_its_final_state() -> None:
    w = KojiWatcher([1])
    answer_poll(w, {1: task(1, "FAILED", "build", "noarch", None)},
                {1: [task(2, "FAILED"), task(3, "CANCELED", arch="aarch64")]})
    assert w.done
    assert [(t.arch, t.state) for t in w.children(1)] == [("x86_64", "FAILED"),
                                                          ("aarch64", "CANCELED")]


def test_the_plan_for_n_tasks_is_one_batch_of_2n_calls() -> None:
    w = KojiWatcher(range(1, 51))
    assert len(w.plan()) == 100


def test_faulty_entries_are_counted_and_leave_state_alone() -> None:
    w = KojiWatcher([1])
    calls = w.plan()
    w.absorb(calls, [Answer(error=xmlrpc.client.Fault(1, "boom")), Answer(value=[])])
    assert w.faulty_calls == 1 and w.tasks[1].state == "FREE"
    assert "boom" in w.last_faults[0]


class Coded(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"fault {code}")
        self.faultCode = code


def test_retryable_faults() -> None:
    assert retryable(xmlrpc.client.Fault(1, "internal"))     # plain fault 1
    assert retryable(Coded(1014))                             # ServerOffline
    assert retryable(Coded(1000))                             # GenericError
    assert retryable(ConnectionError("reset"))
    assert not retryable(Coded(1019))                         # ParameterError
    assert not retryable(Coded(1009))                         # RetryError: call not repeatable
    assert not retryable(Coded(1002))                         # AuthError
    assert fault_code(xmlrpc.client.Fault(7, "x")) == 7 and fault_code(ValueError()) is None


def test_backoff_is_exponential_capped_and_bounded() -> None:
    assert Backoff(tries=5, base=1, factor=2, cap=5).delays() == [1, 2, 4, 5]


def test_with_retries_sleeps_then_gives_up() -> None:
    sleeps: list[float] = []
    calls = []

    def flaky() -> str:
        calls.append(1)
        raise xmlrpc.client.Fault(1, "hub down")

    with pytest.raises(xmlrpc.client.Fault):
        with_retries(flaky, backoff=Backoff(tries=3, base=0.5), sleep=sleeps.append)
    assert len(calls) == 3 and sleeps == [0.5, 1.0]


def test_with_retries_returns_after_transient_errors_and_never_retries_permanent() -> None:
    sleeps: list[float] = []
    answers = iter([Coded(1014), Coded(1), "ok"])

    def once() -> str:
        item = next(answers)
        if isinstance(item, Exception):
            raise item
        return item

    assert with_retries(once, backoff=Backoff(tries=4, base=1), sleep=sleeps.append) == "ok"
    assert sleeps == [1, 2]
    with pytest.raises(Coded):
        with_retries(lambda: (_ for _ in ()).throw(Coded(1019)), backoff=Backoff(),
                     sleep=sleeps.append)
    assert sleeps == [1, 2]


def test_nvr_helpers() -> None:
    assert nvr_parts("libvirt-python-6.2.0-1.el7") == ("libvirt-python", "6.2.0", "1.el7")
    with pytest.raises(ValueError):
        nvr_parts("libvirt")
    tagged = [{"version": "6.2.0", "release": "1.el7"}, {"version": "5.0", "release": "1"}]
    assert builds_present("libvirt-6.2.0-1.el7", tagged)
    assert not builds_present("libvirt-6.2.0-2.el7", tagged)


# --- auth selection mirrors koji_cli.lib.activate_session ------------------------------------


class FakeSession:
    def __init__(self) -> None:
        self.logged_in = False
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def _rec(self, name: str, *a: Any, **k: Any) -> None:
        self.calls.append((name, a, k))
        self.logged_in = True

    def ssl_login(self, *a: Any, **k: Any) -> None:
        self._rec("ssl_login", *a, **k)

    def login(self, *a: Any, **k: Any) -> None:
        self._rec("login", *a, **k)

    def gssapi_login(self, *a: Any, **k: Any) -> None:
        self._rec("gssapi_login", *a, **k)


@pytest.mark.parametrize(("opts", "user", "expected"), [
    ({"authtype": "noauth"}, None, None),
    ({"authtype": "ssl", "cert": "/c.pem", "serverca": "/ca"}, None, "ssl_login"),
    ({"authtype": None, "cert": "CERTFILE"}, None, "ssl_login"),
    ({"authtype": "password"}, "u", "login"),
    ({"authtype": None, "cert": ""}, "u", "login"),
    ({"authtype": "kerberos", "principal": "p@R", "keytab": "/k"}, None, "gssapi_login"),
    ({"authtype": None, "cert": ""}, None, "gssapi_login"),
])
def test_login_method_selection(tmp_path: Path, opts: dict[str, Any], user: str | None,
                                expected: str | None) -> None:
    from pipeline.builds.builders.koji import KojiBuilder

    if opts.get("cert") == "CERTFILE":
        cert = tmp_path / "client.crt"
        cert.write_text("pem", encoding="utf-8")
        opts = {**opts, "cert": str(cert)}
    builder = KojiBuilder(profile="p", user=user, password="pw" if user else None)
    session = FakeSession()
    builder._login(session, opts)
    assert [c[0] for c in session.calls] == ([expected] if expected else [])
    if expected == "gssapi_login" and opts.get("principal"):
        assert session.calls[0][2] == {"proxyuser": None, "principal": "p@R", "keytab": "/k"}
    if expected == "login":
        assert session.calls[0][1] == ()            # the password travels in session opts


def test_profile_is_read_from_the_given_config_file(tmp_path: Path) -> None:
    pytest.importorskip("koji")
    from pipeline.builds.builders.koji import KojiBuilder

    cfg = tmp_path / "koji.conf"
    cfg.write_text("[p]\nserver = http://hub.example/kojihub\n", encoding="utf-8")
    builder = KojiBuilder(profile="p", config_file=cfg, user="u", password="s3cr3t")
    assert builder.options()["server"] == "http://hub.example/kojihub"
    assert "s3cr3t" not in repr(builder.options())


def test_missing_koji_library_is_tool_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from pipeline.builds.builders.koji import KojiBuilder
    from pipeline.core.errors import ToolMissing

    monkeypatch.setitem(sys.modules, "koji", None)      # makes `import koji` fail
    with pytest.raises(ToolMissing, match="koji") as err:
        KojiBuilder(profile="p").check_available()
    assert err.value.exit_code == 3 and "pip install --no-deps koji" in str(err.value)
