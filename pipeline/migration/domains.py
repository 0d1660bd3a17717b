"""Legacy domain XMLs, as ``virsh dumpxml`` writes them, read into what the gate judges.

From each domain: its name, arch and machine type (``<os><type arch= machine=>``), the CPU
(mode, model, features with their policies) and the devices that carry migration state the
gate checks: NICs (QEMU device type from ``<model type=>``, ROM settings) and video
(``<model type= vram=>``). A malformed file is an InputError naming it (FILE:LINE).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError
from pipeline.migration import xmlread

#: libvirt NIC model -> QEMU device type (libvirt's x86 default when absent: rtl8139)
NIC_DEVICES = {"virtio": "virtio-net-pci", "e1000": "e1000", "e1000e": "e1000e",
               "rtl8139": "rtl8139", "ne2k_pci": "ne2k_pci", "pcnet": "pcnet",
               "vmxnet3": "vmxnet3"}
DEFAULT_NIC = "rtl8139"
#: libvirt video model -> QEMU device type
VIDEO_DEVICES = {"vga": "VGA", "cirrus": "cirrus-vga", "qxl": "qxl-vga",
                 "virtio": "virtio-vga", "vmvga": "vmware-svga", "bochs": "bochs-display"}


@dataclass(frozen=True)
class Device:
    kind: str  # nic | video
    qemu: str  # QEMU device type
    rom_bar: bool = True  # <rom bar='off'/>: no ROM mapped
    rom_file: str | None = None  # <rom file=.../>: a ROM chosen by the domain
    vgamem_mb: int | None = None  # video vram (KiB in the XML) in MiB


@dataclass(frozen=True)
class Cpu:
    mode: str  # custom | host-model | host-passthrough | maximum | none (no <cpu>)
    model: str | None
    features: tuple[tuple[str, str], ...]  # (name, policy)

    def required(self) -> set[str]:
        return {n for n, p in self.features if p in ("require", "force")}

    def disabled(self) -> set[str]:
        return {n for n, p in self.features if p in ("disable", "forbid")}


@dataclass(frozen=True)
class Domain:
    name: str
    file: str
    arch: str
    machine: str
    cpu: Cpu
    devices: tuple[Device, ...]

    def qemu_devices(self) -> set[str]:
        return {d.qemu for d in self.devices}


def load_dir(folder: Path) -> list[Domain]:
    """Every ``*.xml`` of ``folder``, sorted by file name."""
    if not folder.is_dir():
        raise InputError("not a folder of domain XMLs", file=str(folder))
    return [load_file(p) for p in sorted(folder.glob("*.xml"))]


def load_file(path: Path) -> Domain:
    return parse(xmlread.parse_file(path), str(path))


def parse(root: ET.Element, file: str) -> Domain:
    if root.tag != "domain":
        raise InputError(f"root element is <{root.tag}>, expected <domain>", file=file, line=1)
    name = (root.findtext("name") or "").strip()
    ostype = root.find("os/type")
    if not name:
        raise InputError("no <name>", file=file, key="domain/name")
    if ostype is None or not ostype.get("machine"):
        raise InputError("no <os><type machine=...>: virsh dumpxml always writes it",
                         file=file, key="domain/os/type")
    return Domain(name=name, file=file, arch=ostype.get("arch") or "x86_64",
                  machine=str(ostype.get("machine")), cpu=_cpu(root.find("cpu")),
                  devices=tuple(_nics(root)) + tuple(_videos(root)))


def _cpu(cpu: ET.Element | None) -> Cpu:
    if cpu is None:
        return Cpu(mode="none", model=None, features=())
    model = cpu.find("model")
    text = (model.text or "").strip() if model is not None else ""
    features = tuple((str(f.get("name")), f.get("policy") or "require")
                     for f in cpu.findall("feature") if f.get("name"))
    return Cpu(mode=cpu.get("mode") or "custom", model=text or None, features=features)


def _nics(root: ET.Element) -> list[Device]:
    out = []
    for iface in root.findall("devices/interface"):
        model = iface.find("model")
        kind = model.get("type") if model is not None else None
        rom = iface.find("rom")
        out.append(Device(kind="nic", qemu=NIC_DEVICES.get(kind or DEFAULT_NIC, kind or ""),
                          rom_bar=rom is None or rom.get("bar") != "off",
                          rom_file=rom.get("file") if rom is not None else None))
    return out


def _videos(root: ET.Element) -> list[Device]:
    out = []
    for video in root.findall("devices/video"):
        model = video.find("model")
        kind = model.get("type", "") if model is not None else ""
        if kind == "none" or model is None:
            continue
        vram = model.get("vram")
        out.append(Device(kind="video", qemu=VIDEO_DEVICES.get(kind, kind),
                          vgamem_mb=int(vram) // 1024 if vram and vram.isdigit() else None))
    return out
