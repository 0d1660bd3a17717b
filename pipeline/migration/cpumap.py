"""libvirt's cpu map (``/usr/share/libvirt/cpu_map``): the x86 feature names and CPU models.

``index.xml`` lists the files per arch (``x86_features.xml``, ``x86_<Model>.xml``...); a model
file holds ``<model name=...>`` with its ``<feature name=...>`` children and, in older maps,
a parent ``<model name=...>`` it extends. Files are parsed with :mod:`xmlread` (bounded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, ToolMissing
from pipeline.migration import xmlread

DEFAULT_DIR = Path("/usr/share/libvirt/cpu_map")
INSTALL_HINT = ("libvirt's cpu map: Debian package libvirt0 (or libvirt-daemon), "
                "libvirt-libs on RPM hosts; or pass --cpu-map DIR")


@dataclass(frozen=True)
class CpuModel:
    name: str
    parent: str | None
    features: frozenset[str]


@dataclass(frozen=True)
class CpuMap:
    path: Path
    features: frozenset[str]
    models: dict[str, CpuModel]

    def model_features(self, name: str) -> frozenset[str]:
        """A model's features with those of the models it extends."""
        seen: set[str] = set()
        out: set[str] = set()
        while name in self.models and name not in seen:
            seen.add(name)
            model = self.models[name]
            out |= model.features
            name = model.parent or ""
        return frozenset(out)


def x86_files(index: Path) -> list[str]:
    """The files ``index.xml`` includes for arch x86, in order."""
    root = xmlread.parse_file(index)
    return [str(inc.get("filename")) for arch in root.iter("arch") if arch.get("name") == "x86"
            for inc in arch.iter("include") if inc.get("filename")]


def load(folder: Path) -> CpuMap:
    if not (folder / "index.xml").is_file():
        raise ToolMissing(str(folder / "index.xml"), INSTALL_HINT)
    features: set[str] = set()
    models: dict[str, CpuModel] = {}
    for name in x86_files(folder / "index.xml"):
        path = folder / name
        if "/" in name or not path.is_file():
            raise InputError(f"index.xml includes {name!r}, which is not in the folder",
                             file=str(folder / "index.xml"))
        root = xmlread.parse_file(path)
        features.update(str(f.get("name")) for f in root.findall("feature") if f.get("name"))
        for model in root.findall("model"):
            parent = model.find("model")
            models[str(model.get("name"))] = CpuModel(
                name=str(model.get("name")),
                parent=parent.get("name") if parent is not None else None,
                features=frozenset(str(f.get("name")) for f in model.findall("feature")))
    return CpuMap(path=folder, features=frozenset(features), models=models)
