"""Sandboxes for upgrade verification, behind one Protocol (:mod:`.base`), in one registry."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.core.errors import InputError
from pipeline.upgrade.sandboxes.base import Sandbox, SandboxConfig
from pipeline.upgrade.sandboxes.installroot import InstallRoot
from pipeline.upgrade.sandboxes.podman import Docker, Podman

#: sandbox kind -> constructor
SANDBOXES: dict[str, Callable[[SandboxConfig], Sandbox]] = {
    "installroot": InstallRoot,
    "podman": Podman,
    "docker": Docker,
}

#: kinds that run a container image
CONTAINER_KINDS = ("podman", "docker")


def create(kind: str, config: SandboxConfig) -> Sandbox:
    try:
        factory = SANDBOXES[kind]
    except KeyError:
        raise InputError(f"unknown sandbox {kind!r} (one of {', '.join(SANDBOXES)})") from None
    return factory(config)


__all__ = ["CONTAINER_KINDS", "SANDBOXES", "Sandbox", "SandboxConfig", "create"]
