"""Class 8 of the promises: credentials in URLs never reach a message, a log or JSON; and no
package registry's host is written anywhere in the tree."""

from __future__ import annotations

import io
import json
import logging
import subprocess
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from pipeline.context import Context
from pipeline.core import cmd
from pipeline.core.redact import redact, redact_data
from tests.conftest import ROOT, CliResult
from tests.support.hostile import inject

SECRET = "s3cret-Pw"


@pytest.mark.parametrize("text,expected", [
    (f"https://alice:{SECRET}@koji.example/kojihub", "https://***@koji.example/kojihub"),
    (f"baseurl=http://bob:{SECRET}@mirror/os/$basearch/", "baseurl=http://***@mirror/os/$basearch/"),
    (f"git+ssh://tok{SECRET}@host/x", "git+ssh://***@host/x"),
    (f"see 'https://u:{SECRET}@h' and https://h/x", "see 'https://***@h' and https://h/x"),
    (f"https://h/x?password={SECRET}&a=1", "https://h/x?password=***&a=1"),
    ("https://h/x user@example.org", "https://h/x user@example.org"),
])
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_json_output_is_redacted(tmp_path: Path) -> None:
    ctx = Context(tree=tmp_path, profiles=[], json=True)
    out = io.StringIO()
    with redirect_stdout(out):
        ctx.emit_json({"server": f"https://a:{SECRET}@k/", "list": [f"http://b:{SECRET}@m/"]})
    assert SECRET not in out.getvalue()
    assert json.loads(out.getvalue())["server"] == "https://***@k/"
    assert redact_data({"k": (f"ftp://c:{SECRET}@x",)}) == {"k": ["ftp://***@x"]}


def test_command_log_and_logfile_are_redacted(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    log = tmp_path / "cmd.log"
    with caplog.at_level(logging.DEBUG):
        cmd.run(["echo", f"https://a:{SECRET}@host/"], logfile=log)
    assert SECRET not in caplog.text and "https://***@host/" in caplog.text
    assert SECRET not in log.read_text() and "https://***@host/" in log.read_text()


def test_error_messages_are_redacted(tree: Path, cli: Callable[..., CliResult]) -> None:
    """A source URL with credentials that cannot be fetched: the one-line error lists it."""
    inject(tree / "matrix.yaml", "packages.libvirt-python.sources.0.url",
           f"http://alice:{SECRET}@127.0.0.1:9/libvirt-python-6.2.0.tar.gz")
    inject(tree / "matrix.yaml", "packages.libvirt-python.sources.0.pip", None)  # type: ignore[arg-type]
    result = cli("-C", str(tree), "-v", "srpm", "--packages", "libvirt-python",
                 "--cells", "bclinux-euler-x86_64")
    assert result.code == 3, result.err
    assert "http://***@127.0.0.1:9/" in result.err
    assert SECRET not in result.err + result.out


def _registry_hosts() -> set[str]:
    """Hosts of the registries this machine uses, asked of pip and apt (not written here)."""
    from pip._internal.models.index import PyPI

    hosts = {PyPI.netloc, PyPI.file_storage_domain}
    apt = Path("/etc/apt")
    for path in [*apt.glob("sources.list.d/*"), apt / "sources.list"]:
        if path.is_file():
            for word in path.read_text().split():
                if "://" in word:
                    hosts.add(word.split("://", 1)[1].split("/", 1)[0])
    return {h for h in hosts if h}


def test_no_registry_host_in_the_tree() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    hosts = _registry_hosts()
    hits = []
    for name in files:
        path = ROOT / name
        if path.suffix == ".patch" or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        hits += [f"{name}: {h}" for h in hosts if h in text]
    assert hits == []


def test_koji_server_credentials_are_redacted(tree: Path, cli: Callable[..., CliResult],
                                              tmp_path: Path) -> None:
    """A koji profile whose server URL carries user:password, and a hub that is not there:
    the one-line error (exit 3) names the hub without the password, in text and in -v logs."""
    pytest.importorskip("koji")
    conf = tmp_path / "koji.conf"
    conf.write_text(f"[standin]\nserver = http://alice:{SECRET}@127.0.0.1:9/kojihub\n"
                    "weburl = http://127.0.0.1/koji\nauthtype = noauth\nmax_retries = 0\n"
                    "retry_interval = 0\nanon_retry = false\ntimeout = 5\n")
    result = cli("-C", str(tree), "-v", "build", "--backend", "koji", "--koji-config", str(conf),
                 "--koji-profile", "standin", "--cells", "bclinux-euler-x86_64", "--dry-run")
    assert result.code == 3, result.err
    assert "***@127.0.0.1:9" in result.err and SECRET not in result.err + result.out
