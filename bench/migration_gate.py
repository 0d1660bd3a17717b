"""The migration gate over 500 generated legacy domain XMLs: seconds, and emulator launches.

The domains spread over 8 machine types that Debian's QEMU offers (declared as a legacy host's
types in generated data, with the tree's CPU facts), 3 NIC models, VGA, and CPUs with and
without renamed or host-dependent features. The emulator must be asked once per machine type
(plus the one ``-machine none`` process that answers query-machines), not once per domain.
Aim: under 10 s on 2 cores.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path

from pipeline.cli import main as cli_main

from .common import ROOT, timed

DOMAINS = 500
TYPES = ("pc-i440fx-2.12", "pc-i440fx-3.1", "pc-i440fx-4.2", "pc-i440fx-5.2",
         "pc-i440fx-6.2", "pc-q35-4.2", "pc-q35-5.2", "pc-q35-6.2")
NICS = ("virtio", "e1000", "rtl8139")
CPUS = ("<cpu mode='custom' match='exact'><model>Nehalem</model></cpu>",
        "<cpu mode='host-model'><model fallback='allow'>Haswell</model></cpu>",
        "<cpu mode='custom' match='exact'><model>Westmere</model>"
        "<feature policy='require' name='arch-facilities'/></cpu>")


def _data(path: Path) -> None:
    text = (ROOT / "tests" / "data" / "migration" / "upstream-legacy.yaml").read_text()
    types = "".join(f"      {t}: upstream-2.12\n" for t in TYPES)
    path.write_text(text.replace("      pc-i440fx-2.12: upstream-2.12\n", types))


def _domain(index: int) -> str:
    machine = TYPES[index % len(TYPES)]
    nic = NICS[index % len(NICS)]
    cpu = CPUS[index % len(CPUS)]
    return (f"<domain type='kvm'><name>vm{index:04d}</name><memory unit='KiB'>1048576</memory>"
            f"<os><type arch='x86_64' machine='{machine}'>hvm</type></os>{cpu}<devices>"
            "<emulator>/usr/libexec/qemu-kvm</emulator><interface type='network'>"
            f"<source network='default'/><model type='{nic}'/></interface><video>"
            "<model type='vga' vram='16384' heads='1' primary='yes'/></video></devices>"
            "</domain>\n")


def main() -> list[tuple[str, str]]:
    emulator = shutil.which("qemu-system-x86_64")
    if emulator is None:
        raise RuntimeError("qemu-system-x86_64 is not installed (tools/setup-host)")
    with tempfile.TemporaryDirectory(prefix="vp-bench-mig-") as tmp:
        folder = Path(tmp) / "domains"
        folder.mkdir()
        for index in range(DOMAINS):
            (folder / f"vm{index:04d}.xml").write_text(_domain(index))
        _data(Path(tmp) / "data.yaml")
        out = io.StringIO()

        def gate() -> int:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                return cli_main(["-C", str(ROOT), "migcheck", "--json", "--emulator", emulator,
                                 "--domains", str(folder), "--data", str(Path(tmp) / "data.yaml")])

        seconds, code = timed(gate)
    report = json.loads(out.getvalue())
    verdicts = [d["verdict"] for d in report["domains"]]
    return [("migration-gate-domains", str(len(verdicts))),
            ("migration-gate-machine-types", str(len(TYPES))),
            ("migration-gate-seconds", f"{seconds:.2f}"),
            ("migration-gate-emulator-launches", str(report["launches"])),
            ("migration-gate-both-ways-count", str(verdicts.count("both-ways"))),
            ("migration-gate-none-count", str(verdicts.count("none"))),
            ("migration-gate-exit-code", str(code))]
