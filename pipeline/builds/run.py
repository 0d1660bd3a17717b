"""Carry out a build plan: SRPM, backend build, result folder, manifest, per-OS repo.

Independent builds run in parallel up to ``jobs``; a build waits for the builds it depends on
and fails (without running) when one of them failed; a failed build never stops the others.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.builds.builders.base import Builder, BuildJob, BuildOutcome, Progress
from pipeline.builds.planner import Step
from pipeline.builds.results import ResultStore
from pipeline.core import cmd
from pipeline.core.errors import Interrupted, PipelineError
from pipeline.matrix.model import Matrix
from pipeline.specs import rpmspec, srpm


@dataclass
class RunReport:
    planned: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    built: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    unbuildable: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"planned": self.planned, "skipped": self.skipped, "built": self.built,
                "failed": self.failed, "unbuildable": self.unbuildable}


@dataclass(frozen=True)
class RunOptions:
    jobs: int = 2
    scratch: bool = False
    arch_override: tuple[str, ...] = ()
    cache: Path = Path(".cache")
    local_dirs: tuple[Path, ...] = ()


def entry(step: Step, **extra: Any) -> dict[str, Any]:
    return {"key": step.unit.key, "os": step.unit.os_id, "flavor": step.unit.flavor,
            "package": step.unit.package, "cells": list(step.unit.cells),
            "arches": list(step.arches), "fingerprint": step.fingerprint, **extra}


class Runner:
    def __init__(self, matrix: Matrix, builder: Builder, store: ResultStore,
                 spec_texts: dict[str, str], options: RunOptions, progress: Progress) -> None:
        self.matrix = matrix
        self.builder = builder
        self.store = store
        self.spec_texts = spec_texts   # unit key -> rendered spec text
        self.options = options
        self.progress = progress
        self.nvrs: dict[str, str] = {}

    def run(self, steps: list[Step]) -> RunReport:
        report = RunReport()
        futures: dict[str, Future[dict[str, Any]]] = {}
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.jobs))
        try:
            self._submit_all(pool, steps, report, futures)
            for _key, future in futures.items():
                result = future.result()
                (report.built if result.get("status") == "ok" else report.failed).append(result)
        except KeyboardInterrupt:
            raise self._interrupted(pool) from None
        finally:
            pool.shutdown(wait=False)
        pool.shutdown()
        # every group of this run: rebuilt when missing or stale, not only after a build
        for group in sorted({s.unit.key.split("/")[0] for s in steps if s.action != "unbuildable"}):
            if (self.store.root / group).is_dir():
                self.store.ensure_repo(group)
        return report

    def _submit_all(self, pool: ThreadPoolExecutor, steps: list[Step], report: RunReport,
                    futures: dict[str, Future[dict[str, Any]]]) -> None:
        for step in steps:
            report.planned.append(entry(step, action=step.action, reason=step.reason))
            if step.missing_arches and step.action != "unbuildable":
                report.unbuildable.append(entry(
                    step, arches=list(step.missing_arches),
                    reason=f"{self.builder.name} backend cannot build "
                           f"{'/'.join(step.missing_arches)} here"))
            if step.action == "skip":
                report.skipped.append(self._skipped(step))
            elif step.action == "unbuildable":
                report.unbuildable.append(entry(step, reason=step.reason))
            else:
                deps = [futures[d] for d in step.unit.depends if d in futures]
                futures[step.unit.key] = pool.submit(self._guarded, step, deps)

    def _interrupted(self, pool: ThreadPoolExecutor) -> Interrupted:
        """First Ctrl-C/SIGTERM: tell the backend (koji stops watching, lists or cancels its
        tasks), drop the builds not started, and do not wait for the running ones here."""
        stop = getattr(self.builder, "interrupt", None)
        lines = list(stop()) if callable(stop) else []
        pool.shutdown(wait=False, cancel_futures=True)
        text = "interrupted"
        if lines:
            text += "; koji tasks:\n" + "\n".join(lines)
        return Interrupted(text)

    def _skipped(self, step: Step) -> dict[str, Any]:
        manifest = self.store.manifest(step.unit.key, step.fingerprint) or {}
        self.nvrs[step.unit.key] = manifest.get("nvr", "")
        return entry(step, reason=step.reason, nevras=manifest.get("nevras", []),
                     result=str(self.store.unit_dir(step.unit.key) / step.fingerprint))

    def _guarded(self, step: Step, deps: list[Future[dict[str, Any]]]) -> dict[str, Any]:
        for dep in deps:
            if dep.result().get("status") != "ok":
                return entry(step, status="failed", reason=f"dependency {dep.result()['key']} "
                             "failed", nevras=[])
        try:
            return self._build(step)
        except PipelineError as exc:
            self.progress(step.unit.key, f"FAILED: {exc}")
            return entry(step, status="failed", reason=str(exc).splitlines()[0], nevras=[])

    def _build(self, step: Step) -> dict[str, Any]:
        unit = step.unit
        cell = self.matrix.cell(unit.cells[0])
        partial = self.store.begin(unit.key, step.fingerprint)
        started = time.time()
        self.progress(unit.key, "making SRPM")
        srpm_path = srpm.make_srpm(self.matrix, cell, unit.package, self.spec_texts[unit.key],
                                   partial / "srpm-top", cache=self.options.cache / "sources",
                                   local_dirs=self.options.local_dirs,
                                   logfile=partial / "srpm.log")
        kept = partial / "srpm" / srpm_path.name
        kept.parent.mkdir()
        srpm_path.replace(kept)
        shutil.rmtree(partial / "srpm-top")
        job = self._job(step, kept)
        self.progress(unit.key, f"building with {self.builder.name}")
        outcome = self.builder.build(job, partial, self.progress)
        manifest = self._manifest(step, job, outcome, started, partial)
        final = self.store.commit(unit.key, step.fingerprint, partial, manifest)
        self.nvrs[unit.key] = job.nvr
        self.progress(unit.key, "done" if outcome.ok else f"FAILED: {outcome.reason}")
        return {**entry(step), "status": manifest["status"], "nevras": manifest["nevras"],
                "reason": outcome.reason, "result": str(final)}

    def _job(self, step: Step, srpm_path: Path) -> BuildJob:
        unit = step.unit
        cell = self.matrix.cell(unit.cells[0])
        koji = cell.os.koji
        nvr = srpm_path.name[: -len(".src.rpm")]
        return BuildJob(
            key=unit.key, os_id=unit.os_id, flavor=unit.flavor, package=unit.package, nvr=nvr,
            srpm=srpm_path, spec=srpm_path.parent.parent / "SPECS" / f"{unit.package}.spec",
            dist=cell.dist, arches=step.arches, cells=unit.cells,
            macros=tuple(rpmspec.macro_files(Path(self.matrix.root), cell)),
            koji_target=koji.flavor_targets.get(unit.flavor or "", koji.target),
            koji_channel=cell.flavor.koji_channel if cell.flavor and unit.flavor else None,
            scratch=self.options.scratch, arch_override=self.options.arch_override,
            wait_for=tuple(self.nvrs[d] for d in unit.depends if self.nvrs.get(d)))

    def _manifest(self, step: Step, job: BuildJob, outcome: BuildOutcome,
                  started: float, partial: Path) -> dict[str, Any]:
        """Paths are relative to the result folder, so it can move."""
        rpms = [{"file": str(p.relative_to(partial)), "nevra": nevra_of(p), "sha256": _sha(p)}
                for p in outcome.rpms]
        return {
            "key": step.unit.key, "package": step.unit.package, "os": step.unit.os_id,
            "flavor": step.unit.flavor, "cells": list(step.unit.cells),
            "arches": list(step.arches), "fingerprint": step.fingerprint,
            "backend": self.builder.name, "status": "ok" if outcome.ok else "failed",
            "nvr": job.nvr, "srpm": str(job.srpm.relative_to(partial)),
            "srpm_sha256": _sha(job.srpm),
            "nevras": [r["nevra"] for r in rpms], "rpms": rpms,
            "logs": [str(p.relative_to(partial)) for p in outcome.logs],
            "commands": outcome.commands,
            "koji_task_ids": outcome.task_ids, "reason": outcome.reason,
            "failed_arch": outcome.failed_arch, "log_tail": outcome.log_tail,
            "started": started, "finished": time.time(),
            "duration_s": round(time.time() - started, 3),
        }


def nevra_of(path: Path) -> str:
    done = cmd.run(["rpm", "-qp", "--qf", "%{name}-%{epochnum}:%{version}-%{release}.%{arch}",
                    str(path)])
    return done.stdout.strip().replace("-0:", "-")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

