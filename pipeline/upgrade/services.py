"""What the scriptlets asked of systemd, and the unit state that came of it.

The sandbox's base package has a ``systemctl`` that logs every call and keeps the state a
scriptlet can change (``pipeline.upgrade.rootbase``). A scenario sets the host's units before
the upgrade (``services: {enabled: [...], active: [...]}``) and says what must hold after it
(``expect.services``): these checks compare that with the calls the upgrade made and the state
it left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.core.findings import Finding

#: check id -> what it proves
CHECKS: dict[str, str] = {
    "service-not-restarted": "a daemon running before the upgrade runs the new binary after it "
                             "(the upgrade stopped/started or restarted it)",
    "service-state-lost": "units enabled or active before the upgrade still are after it",
    "socket-not-masked": "under --listen the libvirtd sockets are masked (no socket activation)",
}

#: verbs that (re)start a unit, when it is not masked
_STARTS = ("start", "restart", "try-restart", "reload-or-restart", "condrestart")


@dataclass(frozen=True)
class HostServices:
    """Unit state of the host before the upgrade."""

    enabled: tuple[str, ...] = ()
    active: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceExpect:
    """What must hold after the upgrade."""

    restarted: tuple[str, ...] = ()
    enabled: tuple[str, ...] = ()
    active: tuple[str, ...] = ()
    masked: tuple[str, ...] = ()

    def units(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.restarted + self.enabled + self.active + self.masked))


@dataclass
class ServiceRecord:
    """The systemctl calls the upgrade made and the state of the units asked about."""

    calls: list[str] = field(default_factory=list)
    enabled: set[str] = field(default_factory=set)
    active: set[str] = field(default_factory=set)
    masked: set[str] = field(default_factory=set)


def parse_call(line: str) -> tuple[str, list[str]]:
    """``--no-reload disable --now a b`` -> ("disable", ["a", "b"]) (options dropped)."""
    words = [w for w in line.split() if not w.startswith("-")]
    return (words[0], words[1:]) if words else ("", [])


def restarts(calls: list[str], unit: str) -> bool:
    """True when a call (re)started ``unit``."""
    for line in calls:
        verb, units = parse_call(line)
        if verb in _STARTS and unit in units:
            return True
    return False


def _f(check: str, cell: str, detail: str) -> Finding:
    return Finding(id=check, level="error", cell=cell, package=None, detail=detail)


def check_services(record: ServiceRecord | None, expect: ServiceExpect,
                   cell: str) -> list[Finding]:
    if record is None:
        return []
    calls = "; ".join(record.calls[-12:]) or "none"
    out = []
    for unit in expect.restarted:
        if not restarts(record.calls, unit) or unit not in record.active:
            state = "active" if unit in record.active else "not active"
            out.append(_f("service-not-restarted", cell,
                          f"{unit} was running before the upgrade and was not restarted by it "
                          f"(now {state}); systemctl calls: {calls}"))
    for state, wanted, seen in (("enabled", expect.enabled, record.enabled),
                                ("active", expect.active, record.active)):
        out += [_f("service-state-lost", cell,
                   f"{unit} was {state} before the upgrade and is not after it; "
                   f"systemctl calls: {calls}") for unit in wanted if unit not in seen]
    for unit in expect.masked:
        if unit not in record.masked:
            out.append(_f("socket-not-masked", cell,
                          f"{unit} is not masked after the upgrade of a host configured with "
                          f"--listen: socket activation takes the port from libvirtd; "
                          f"systemctl calls: {calls}"))
    return out
