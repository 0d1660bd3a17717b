"""The device sets of the cross-version grid: what a libvirt guest typically carries, a q35 guest
with its devices behind PCIe root ports, and one set per NIC model, VGA model and USB controller.

Every set is a command-line fragment valid on both QEMU 2.12 and 6.2. Backends carry no
migration state of their own (``hubport`` netdev, raw image files, ``null`` chardevs, a unix
socket for the guest-agent port), so only device state travels.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

NIC_MODELS: tuple[str, ...] = ("virtio-net-pci", "e1000", "e1000e", "rtl8139", "ne2k_pci",
                               "pcnet", "vmxnet3")
VGA_MODELS: tuple[str, ...] = ("VGA", "cirrus-vga", "qxl-vga", "virtio-vga", "bochs-display")
USB_CONTROLLERS: tuple[str, ...] = ("piix3-usb-uhci", "piix4-usb-uhci", "ich9-usb-ehci1",
                                    "usb-ehci", "nec-usb-xhci", "qemu-xhci")


@dataclass(frozen=True)
class DeviceSet:
    """A named device set: the device types it needs, whether it wants q35, its arguments."""

    name: str
    needs: tuple[str, ...]
    q35_only: bool
    args: Callable[[Path, str], list[str]]  # (scratch dir, pair name) -> argv fragment

    def runs_on(self, machine: str, available: frozenset[str]) -> bool:
        if self.q35_only and "-q35-" not in machine:
            return False
        return all(dev in available for dev in self.needs)


def disk(scratch: Path, name: str, size: int = 1 << 20) -> Path:
    """A raw image file (created once, zero-filled) shared by both sides of a pair."""
    path = scratch / f"{name}.raw"
    if not path.exists():
        with path.open("wb") as out:
            out.truncate(size)
    return path


def libvirt_args(scratch: Path, pair: str) -> list[str]:
    """What libvirt gives a typical i440fx guest (virt-install defaults, 2.12 era)."""
    d1, d2 = disk(scratch, "vda"), disk(scratch, "sda")
    return [
        "-device", "piix3-usb-uhci,id=usb", "-device", "usb-tablet,bus=usb.0",
        "-device", "VGA",
        "-netdev", "hubport,id=net0,hubid=0", "-device", "virtio-net-pci,netdev=net0",
        "-drive", f"file={d1},format=raw,if=none,id=vda",
        "-device", "virtio-blk-pci,drive=vda",
        "-device", "virtio-scsi-pci,id=scsi0",
        "-drive", f"file={d2},format=raw,if=none,id=sda",
        "-device", "scsi-hd,drive=sda,bus=scsi0.0",
        "-drive", "if=none,id=cd0,media=cdrom", "-device", "ide-cd,drive=cd0",
        "-device", "virtio-serial-pci,id=vser0",
        "-chardev", f"socket,id=ga0,path={scratch / pair}.ga,server=on,wait=off",
        "-device", "virtserialport,bus=vser0.0,chardev=ga0,name=org.qemu.guest_agent.0",
        "-device", "virtio-balloon-pci",
        "-chardev", "null,id=ser0", "-device", "isa-serial,chardev=ser0",
    ]


def q35_args(scratch: Path, pair: str) -> list[str]:
    """A q35 guest as libvirt lays it out: endpoints behind pcie-root-ports."""
    d1 = disk(scratch, "q35-vda")
    ports: list[str] = []
    for n in range(1, 5):
        ports += ["-device", f"pcie-root-port,id=rp{n},chassis={n},port=0x1{n},bus=pcie.0"]
    return [
        *ports,
        "-device", "nec-usb-xhci,id=usb,bus=rp1", "-device", "usb-tablet,bus=usb.0",
        "-netdev", "hubport,id=net0,hubid=0", "-device", "virtio-net-pci,netdev=net0,bus=rp2",
        "-drive", f"file={d1},format=raw,if=none,id=vda",
        "-device", "virtio-blk-pci,drive=vda,bus=rp3",
        "-device", "virtio-balloon-pci,bus=rp4", "-device", "VGA",
        "-chardev", "null,id=ser0", "-device", "isa-serial,chardev=ser0",
    ]


def nic_set(model: str) -> DeviceSet:
    def args(_scratch: Path, _pair: str) -> list[str]:
        return ["-netdev", "hubport,id=net0,hubid=0", "-device", f"{model},netdev=net0"]
    return DeviceSet(f"nic-{model}", (model,), False, args)


def vga_set(model: str) -> DeviceSet:
    return DeviceSet(f"vga-{model}", (model,), False, lambda _s, _p: ["-device", model])


def usb_set(model: str) -> DeviceSet:
    def args(_scratch: Path, _pair: str) -> list[str]:
        return ["-device", f"{model},id=usb", "-device", "usb-tablet,bus=usb.0"]
    return DeviceSet(f"usb-{model}", (model, "usb-tablet"), False, args)


LIBVIRT_NEEDS = ("piix3-usb-uhci", "usb-tablet", "VGA", "virtio-net-pci", "virtio-blk-pci",
                 "virtio-scsi-pci", "scsi-hd", "ide-cd", "virtio-serial-pci", "virtserialport",
                 "virtio-balloon-pci", "isa-serial")
Q35_NEEDS = ("pcie-root-port", "nec-usb-xhci", "usb-tablet", "virtio-net-pci",
             "virtio-blk-pci", "virtio-balloon-pci", "VGA", "isa-serial")


def all_sets() -> list[DeviceSet]:
    return [
        DeviceSet("libvirt", LIBVIRT_NEEDS, False, libvirt_args),
        DeviceSet("q35-root-ports", Q35_NEEDS, True, q35_args),
        *(nic_set(m) for m in NIC_MODELS),
        *(vga_set(m) for m in VGA_MODELS),
        *(usb_set(m) for m in USB_CONTROLLERS),
    ]


def select_sets(names: str | None) -> list[DeviceSet]:
    """All sets, or those whose name matches one of the comma-separated globs in ``names``."""
    sets = all_sets()
    if not names:
        return sets
    globs = [n.strip() for n in names.split(",") if n.strip()]
    return [s for s in sets if any(fnmatch.fnmatchcase(s.name, g) for g in globs)]


_DEVICE_NAME = re.compile(r'^name "([^"]+)"', re.MULTILINE)


def parse_device_help(text: str) -> frozenset[str]:
    """Device type names from ``-device help`` output (``name "e1000", bus PCI, ...``)."""
    return frozenset(_DEVICE_NAME.findall(text))
