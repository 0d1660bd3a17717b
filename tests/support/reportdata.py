"""Run records and build results like a demo run leaves them, for the report's tests.

``demo_like(tree)`` writes what ``render --check``, ``validate``, ``patches check``, ``build``
and both ``verify-upgrade`` runs record, plus one build result folder with its logs, without
running any of them (the records' shapes are the commands' own JSON, see pipeline/commands).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pipeline.core.runs import write_record

FINGERPRINT = "f" * 64
EULER = ("bclinux-euler-x86_64", "bclinux-euler-aarch64", "bclinux-euler-x86_64-hygon")


def record(tree: Path, name: str, result: Any, *, code: int = 0, argv: list[str] | None = None,
           profiles: tuple[str, ...] = ()) -> None:
    write_record(tree / ".cache", name, {
        "command": name, "argv": argv or [name, "--json"], "profiles": list(profiles),
        "exit_code": code, "error": None, "started": time.time() - 1, "finished": time.time(),
        "duration_s": 1.0, "result": result})


def build_result(tree: Path, *, status: str = "ok", reason: str = "") -> Path:
    folder = tree / ".cache/results/bclinux-euler/libvirt-python" / FINGERPRINT
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    (folder / "logs/build.log").write_text("rpmbuild -ba libvirt-python.spec\n+ exit 0\n")
    (folder / "srpm.log").write_text("rpmbuild -bs\n")
    manifest = {"key": "bclinux-euler/libvirt-python", "package": "libvirt-python",
                "os": "bclinux-euler", "flavor": None, "cells": list(EULER),
                "arches": ["x86_64", "aarch64"], "fingerprint": FINGERPRINT, "backend": "local",
                "status": status, "nvr": "libvirt-python-9.0.0-1.oe2203.bclinux",
                "nevras": ["python3-libvirt-9.0.0-1.oe2203.bclinux.x86_64"] if status == "ok"
                else [], "rpms": [], "logs": ["logs/build.log"], "reason": reason,
                "log_tail": "error: Bad exit status <b>1</b>" if status != "ok" else "",
                "started": time.time() - 9, "finished": time.time(), "duration_s": 9.1}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def scenario(sid: str, os_id: str, *, preflight: bool, failed: str = "") -> dict[str, Any]:
    findings = [{"id": "final-set-mismatch", "level": "error", "package": "qemu",
                 "detail": failed}] if failed else []
    return {"id": sid, "os": os_id, "sandbox": "none" if preflight else "installroot",
            "preflight": preflight, "status": "failed" if failed else "passed",
            "final_set": ["libvirt", "qemu", "qemu-img"], "sources": {"qemu": "stand-in"},
            "log": "", "findings": findings}


def demo_like(tree: Path, *, failed_scenario: str = "") -> None:
    """Records of a demo run; ``failed_scenario``: this sandbox scenario failed (final set)."""
    cells = ["bclinux7-x86_64", "bclinux7-aarch64", "bclinux7-x86_64-hygon", *EULER]
    record(tree, "render", {"stale": [], "specs": []}, argv=["render", "--check"])
    record(tree, "validate", {"cells": cells, "findings": [
        {"id": "rpmlint-warning", "level": "warning", "cell": "bclinux7-x86_64",
         "package": "qemu", "detail": "qemu.x86_64: W: no-documentation"}]})
    record(tree, "patches", {"results": [
        {"cells": cells, "package": "libvirt-python", "patch": "0001-py2.patch",
         "status": "applies", "detail": ""}], "findings": [], "checks": []})
    build_result(tree)
    demo = ("profiles/demo.yaml",)
    record(tree, "build", {"planned": [], "built": [], "failed": [],
                           "skipped": [{"key": "bclinux-euler/libvirt-python",
                                        "cells": list(EULER), "arches": ["x86_64"],
                                        "fingerprint": FINGERPRINT, "reason": "up to date"}],
                           "unbuildable": [{"key": "bclinux-euler/libvirt-python",
                                            "cells": list(EULER), "arches": ["aarch64"],
                                            "fingerprint": FINGERPRINT,
                                            "reason": "local backend cannot build aarch64 here"}],
                           }, profiles=demo)
    ids = [("bclinux7-el7-base", "bclinux7"), ("bclinux-euler-prev", "bclinux-euler")]
    record(tree, "verify-upgrade-preflight", {"scenarios": [
        scenario(s, o, preflight=True) for s, o in ids]}, profiles=demo)
    log = tree / ".cache/upgrade/logs/bclinux7-el7-base.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("dnf -y upgrade\nComplete!\n")
    sandbox = [scenario(s, o, preflight=False,
                        failed=f"qemu-kvm is still installed after the upgrade ({s})"
                        if s == failed_scenario else "") for s, o in ids]
    sandbox[0]["log"] = str(log)
    record(tree, "verify-upgrade", {"scenarios": sandbox}, code=1 if failed_scenario else 0,
           profiles=demo)
