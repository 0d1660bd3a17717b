"""Benchmark: from a dependency's tag to the dependent koji build starting, on the stand-in hub
modelling the real repo lag.

Scaled clock: the stand-in's time is one tick per hub request and the builder polls without
sleeping, so one tick stands for one second of hub time (a real client polls every 6 s and
kojira takes its own time: the figures are in simulated seconds). The lag is koji's: a
``repo.auto`` tag gets a new repo only 7200 s after a change (RepoAutoLag, about two hours);
a repo request is served in 10 s (``koji wait-repo --request`` took 12.6 s on a real 1.35 hub
with kojira here). Measured: the tick at which the dependent build's rebuildSRPM task opens,
minus the tick the dependency was tagged at

* with the request: a 1.35 hub; the backend requests a repo and submits, the build task's
  waitrepo gets it (aim: under 30 s);
* without it: a 1.34 hub (no requests), where the wait lasts until kojira regenerates the repo
  after the lag.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.builds.builders.base import BuildJob  # noqa: E402
from pipeline.builds.builders.koji import KojiBuilder  # noqa: E402
from tests.support.kojihub import KojiHub, make_srpm, setup_virt_hub, write_profile  # noqa: E402
from tests.support.kojisim import HubConfig  # noqa: E402

LAG_S = 7200
REQUEST_S = 10
DEP = "libvirt-6.2.0-1.el7"
SPEC = """\
Name: libvirt-python
Version: 6.2.0
Release: 1%{?dist}
Summary: bench
License: LGPLv2+
BuildRequires: libvirt-devel >= 6.2.0
%description
bench
%files
%changelog
"""



def seconds_to_start(version: str, srpm: Path, tmp: Path) -> tuple[int, int, bool]:
    """(simulated seconds from tag to the dependent build starting, hub requests, ok)."""
    cfg = HubConfig(version=version, repo_lag=LAG_S, request_ticks=REQUEST_S,
                    waitrepo_ticks=3 * LAG_S)
    with KojiHub(tmp / f"hub-{version}", cfg) as hub:
        setup_virt_hub(hub)
        profile = write_profile(tmp / f"koji-{version}.conf", hub)
        builder = KojiBuilder(profile="standin", config_file=profile, user="builder",
                              password="secret", sleep=lambda s: None,
                              wait_timeout=float("inf"), clock=lambda: float(hub.sim.tick))
        with hub.lock:
            hub.sim.import_build(DEP, "bclinux7-virt", ["libvirt", "libvirt-devel"])
            tagged = hub.sim.tick
        job = BuildJob(key="bclinux7/libvirt-python", os_id="bclinux7", flavor=None,
                       package="libvirt-python", nvr=srpm.name[:-len(".src.rpm")], srpm=srpm,
                       spec=srpm, dist=".el7", arches=("x86_64",), cells=("bclinux7-x86_64",),
                       macros=(), koji_target="bclinux7-virt", koji_channel=None,
                       wait_for=(DEP,))
        out = tmp / f"out-{version}"
        out.mkdir()
        before = len(hub.requests)
        outcome = builder.build(job, out, lambda k, s: None)
        srpm_task = next(t for t in hub.sim.tasks.values() if t.method == "rebuildSRPM")
        assert srpm_task.start_tick is not None
        return srpm_task.start_tick - tagged, len(hub.requests) - before, outcome.ok


def main() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="bench-koji-wait-") as name:
        tmp = Path(name)
        srpm = make_srpm(tmp, "libvirt-python", SPEC)
        with_req, req_calls, ok1 = seconds_to_start("1.35.3", srpm, tmp)
        without, old_calls, ok2 = seconds_to_start("1.34.1", srpm, tmp)
    assert ok1 and ok2, "a benchmark build failed"
    return [("koji-wait-with-request-seconds", str(with_req)),
            ("koji-wait-without-request-seconds", str(without)),
            ("koji-wait-with-request-hub-calls", str(req_calls)),
            ("koji-wait-without-request-hub-calls", str(old_calls)),
            ("koji-wait-speedup-ratio", f"{without / max(with_req, 1):.0f}")]


if __name__ == "__main__":
    for fig, value in main():
        print(f"{fig}\t{value}")
