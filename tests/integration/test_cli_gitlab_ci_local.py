""".gitlab-ci.yml through a real GitLab CI implementation: gitlab-ci-local 4.52.0 (npm,
installed by ``make ci-tools``) validates it against GitLab's JSON schema and resolves
``extends``, ``needs``, ``rules`` and ``parallel:matrix`` for a merge request, a tag and a
protected branch. Runs in a scratch git repository holding the file, with ``origin/main``
one commit behind (gitlab-ci-local evaluates ``rules:changes`` with git diff)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GCL = ROOT / ".cache/node/node_modules/.bin/gitlab-ci-local"
pytestmark = pytest.mark.integration


def gcl() -> Path:
    if not GCL.exists():
        pytest.skip(f"{GCL} is missing: `make ci-tools` installs gitlab-ci-local 4.52.0 with "
                    "npm; the GitLab CI structure tests did NOT run")
    return GCL


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci",
                    *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "feature")
    git(repo, "commit", "-q", "--allow-empty", "-m", "base")
    for name in (".gitlab-ci.yml", "Makefile"):
        shutil.copy(ROOT / name, repo / name)
    (repo / "pipeline").mkdir()
    (repo / "pipeline/cli.py").write_text("# a change to the toolkit\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    git(repo, "remote", "add", "origin", "https://gitlab.example.invalid/virt/pipeline.git")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD~1")
    return repo


def jobs(repo: Path, *variables: str) -> dict[str, tuple[str, str, str]]:
    """name -> (stage, when, needs) as gitlab-ci-local --list resolves them."""
    args = [str(gcl()), "--list"]
    for variable in variables:
        args += ["--variable", variable]
    done = subprocess.run(args, cwd=repo, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "json schema validated" in done.stdout + done.stderr
    out = {}
    for line in done.stdout.splitlines():
        m = re.match(r"^(\S+(?:: \[[^\]]*\])?)\s+(check|patches|srpm|build|upgrade|migration|"
                     r"report)\s+(\S+)\s+(?:true|false)\s*(\[.*\])?$", line)
        if m:
            out[m.group(1)] = (m.group(2), m.group(3), m.group(4) or "")
    return out


def test_merge_request_pipeline(repo: Path) -> None:
    found = jobs(repo, "CI_PIPELINE_SOURCE=merge_request_event")
    for name in ("render-check", "validate", "upgrade-preflight", "patches", "srpm",
                 "build-mr: [bclinux7-*]", "build-mr: [bclinux-euler-*]", "upgrade-verify-mr",
                 "migration-gate", "report", "tests", "lint"):
        assert name in found, (name, sorted(found))
    assert not any(n.startswith(("build-koji", "upgrade-verify-release")) for n in found)
    assert found["report"][1] == "always"
    assert found["upgrade-verify-mr"][2] == "[build-mr]"
    assert found["bench"][1] == "manual"


def test_tag_and_protected_branch_build_in_koji(repo: Path) -> None:
    for variables in (("CI_COMMIT_TAG=v6.2.0-1",),
                      ("CI_COMMIT_REF_PROTECTED=true", "CI_PIPELINE_SOURCE=push")):
        found = jobs(repo, *variables)
        assert "build-koji: [bclinux7-*]" in found and "upgrade-verify-release" in found
        assert not any(n.startswith(("build-mr", "upgrade-preflight")) for n in found)


def test_schema_violation_is_refused(repo: Path) -> None:
    config = repo / ".gitlab-ci.yml"
    config.write_text(config.read_text().replace("  stage: srpm\n",
                                                 "  stage: srpm\n  artefacts: {}\n"))
    done = subprocess.run([str(gcl()), "--list"], cwd=repo, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode != 0 and "artefacts" in done.stdout + done.stderr


RUN_JOBS_ENV = "VP_CI_RUN_JOBS"


@pytest.mark.slow
def test_merge_request_jobs_run_in_a_clean_clone(tmp_path: Path) -> None:
    """Opt-in (``VP_CI_RUN_JOBS=1``, several minutes, PyPI reachable): gitlab-ci-local's shell
    executor runs the merge request's check jobs and the report job in a clean clone of the
    committed tree, each job in its own copy (``--shell-isolation``), its ``before_script``
    making the virtualenv. The only change to the file: the job image is dropped, so the jobs
    run on this host (the shell executor) rather than in a container."""
    import os

    if not os.environ.get(RUN_JOBS_ENV):
        pytest.skip(f"set {RUN_JOBS_ENV}=1 to run the merge request's jobs with gitlab-ci-local "
                    "(several minutes): NOT run")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    git(clone, "remote", "set-url", "origin", "https://gitlab.example.invalid/virt/pipeline.git")
    git(clone, "update-ref", "refs/remotes/origin/main", "HEAD~1")
    config = clone / ".gitlab-ci.yml"
    config.write_text(config.read_text().replace("  image: $CI_IMAGE\n", ""))
    done = subprocess.run(
        [str(gcl()), "--shell-executor-no-image", "--shell-isolation",
         "--variable", "CI_PIPELINE_SOURCE=merge_request_event",
         "render-check", "validate", "upgrade-preflight", "report"],
        cwd=clone, capture_output=True, text=True, timeout=3600, check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    for job in ("render-check", "validate", "upgrade-preflight", "report"):
        assert f"PASS  {job}" in out, job
    artifacts = clone / ".gitlab-ci-local/artifacts"
    report = artifacts / "report/report/report.json"
    data = json.loads(report.read_text())
    assert {r["run"] for r in data["scenarios"]} == {"verify-upgrade-preflight"}
    assert all(s["state"] == "pass" for s in data["scenarios"])
    states = {s["state"] for row in data["grid"] for c in row["cells"]
              for name, s in c["stages"].items() if name in ("render", "validate")}
    assert states == {"pass"}
    assert (artifacts / "report/report/junit.xml").is_file()
    assert (artifacts / "report/report/index.html").is_file()
