"""CPU checks (pure): a legacy domain's CPU against the new libvirt cpu map and, where KVM could
be asked, what this host's CPU really offers (``query-cpu-model-expansion`` of ``host``).

- a feature name the legacy side used under another name (``arch-facilities``, RHEL 7 only,
  is ``arch-capabilities`` upstream, no alias): renamed, rename it in the source;
- a name or model the new cpu map lacks: missing;
- a feature that depends on the destination host (``hle``/``rtm`` need TSX, off by default on
  openEuler's kernel; ``spec-ctrl`` needs microcode): checked against the host when KVM was
  asked, else a warning naming the remedy.
"""

from __future__ import annotations

from pipeline.migration.compat import Problem
from pipeline.migration.cpumap import CpuMap
from pipeline.migration.data import MigrationData
from pipeline.migration.domains import Cpu


def cpu_problems(cpu: Cpu, cpu_map: CpuMap, data: MigrationData,
                 host: dict[str, bool] | None) -> list[Problem]:
    out: list[Problem] = []
    if cpu.mode == "host-passthrough":
        out.append(Problem("cpu-host-passthrough", "host-passthrough: migrates only between "
                                                   "hosts with the same CPU and microcode"))
    if cpu.model and cpu.model not in cpu_map.models:
        out.append(Problem("cpu-model-missing", f"CPU model {cpu.model} is not in the new cpu "
                                                f"map ({cpu_map.path}); remedy: move the VM to a "
                                                "model both maps have (virsh cpu-models)"))
    for name, _policy in cpu.features:
        new = data.renamed.get(name)
        if new and name not in cpu_map.features:
            out.append(Problem("cpu-feature-renamed",
                               f"feature {name} is called {new} in the new cpu map (no alias): "
                               f"the new libvirt rejects the domain (remedy: rename {name} to "
                               f"{new} in the source domain / el7 cpu map before migrating)"))
        elif name not in cpu_map.features:
            out.append(Problem("cpu-feature-missing", f"feature {name} is not in the new cpu "
                                                      f"map ({cpu_map.path}); remedy: drop it "
                                                      "from the domain's CPU or add it to the "
                                                      "new libvirt's cpu map"))
    return out + host_problems(cpu, cpu_map, data, host)


def effective_features(cpu: Cpu, cpu_map: CpuMap) -> set[str]:
    """What the guest CPU asks of the destination: the model's features plus the required
    ones, minus the disabled ones."""
    base = set(cpu_map.model_features(cpu.model)) if cpu.model else set()
    if cpu.mode == "host-passthrough":
        base = set()
    return (base | cpu.required()) - cpu.disabled()


def host_problems(cpu: Cpu, cpu_map: CpuMap, data: MigrationData,
                  host: dict[str, bool] | None) -> list[Problem]:
    out = []
    wanted = effective_features(cpu, cpu_map)
    for name in sorted(wanted & set(data.host_dependent)):
        fact = data.host_dependent[name]
        where = f"model {cpu.model}" if cpu.model and name not in cpu.required() else "required"
        if host is None:
            out.append(Problem("cpu-feature-host-dependent",
                               f"{name} ({where}) needs {fact.needs} on the destination host; "
                               f"not checked here (no KVM); remedy if absent: {fact.remedy}"))
        elif not host.get(name, False):
            out.append(Problem(f"cpu-feature-host-{fact.needs.lower()}",
                               f"{name} ({where}) is not offered by this host's CPU "
                               f"(query-cpu-model-expansion host): {cpu.mode} guests lose it; "
                               f"remedy: {fact.remedy}"))
    return out
