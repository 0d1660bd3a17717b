"""The hostile corpus: rpm macro injections, each of which would ``touch`` a marker file.

Every form is a value a user (or an attacker editing a profile, a ledger or a legacy manifest)
could put in the tree's data. ``how`` says how rpm would run it: ``eval`` when ``rpm --eval``
of the value alone runs the payload, ``twice`` when it runs once the text is expanded a second
time (a value rendered into a ``%global`` or an ``%{expand:...}``). The integration test
``test_matrix_hostile_rpm`` proves each form really runs in rpm, so the refusal tests refuse
real attacks, not strings that were harmless anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def macro_forms(marker: Path) -> list[tuple[str, str]]:
    """(value, how) pairs; each runs ``touch marker`` when rpm expands it."""
    m = str(marker)
    evil_macros = marker.parent / "evil.macros"
    evil_macros.write_text(f"%evilmac %(touch {m})\n")
    forms = [
        f"%(touch {m})", f"%{{lua: os.execute('touch {m}')}}", f"%[ \"%(touch {m})\" ]",
        f"%{{expand:%%(touch {m})}}", f"%{{expand:%%{{lua:os.execute('touch {m}')}}}}",
        f"%{{load:{evil_macros}}}%{{evilmac}}", f"%{{define:x %(touch {m})}}%{{x}}",
        f"%global y %(touch {m})", f"%{{?name:%(touch {m})}}", f"%{{!?nosuch:%(touch {m})}}",
        f"%%%(touch {m})", f"%{{shrink:%(touch {m})}}", f"%{{echo:%(touch {m})}}",
        f"%{{quote:%(touch {m})}}", f"%{{gsub:x,x,%(touch {m})}}",
        f"%{{lua:rpm.expand('%(touch {m})')}}", f"%{{expand:%{{expand:%%%%(touch {m})}}}}",
        f"%{{url2path:%(touch {m})}}", f"%{{basename:%(touch {m})}}",
        f"%{{define:z() %(touch {m})}}%{{z}}", f"%{{lua:io.open('{m}','w'):close()}}",
        f"%[%{{lua:os.execute('touch {m}')}}]", f"%{{expand:%%(%{{?name:touch}} {m})}}",
        f"%{{suffix:%(touch {m})}}", f"%{{upper:%(touch {m})}}", f"%{{dirname:%(touch {m})}}",
        f"%{{uncompress:%(touch {m})}}", f"%{{expr:%(touch {m})}}",
        f"%{{macrobody:%(touch {m})}}", f"%{{expand:%{{?name:%%(touch {m})}}}}",
        f"%{{exists:%(touch {m})}}", f"%{{trace}}%(touch {m})", f"%{{warn:%(touch {m})}}",
        f"%{{undefine:dist}}%(touch {m})", f"%{{getenv:HOME}}%(touch {m})",
        f"%{{len:%(touch {m})}}", f"%{{expand:%%%{{?name:(}}touch {m})}}",
        f"%name %(touch {m})", f"%{{?dist}}%(touch {m})", f"%{{lua:os.execute([[touch {m}]])}}",
        f"%{{rep:%(touch {m}),1}}", f"%{{version}}%(touch {m})",
    ]
    twice = [f"%%(touch {m})", f"%%{{lua:os.execute('touch {m}')}}", f"%%{{?name:%%(touch {m})}}",
             f"%%{{expand:%%%%(touch {m})}}", f"%%[%%(touch {m})]"]
    return [(f, "eval") for f in forms] + [(f, "twice") for f in twice]


#: dotted paths into matrix.yaml whose string value reaches a spec, a macro file or rpm's
#: command line (``+`` marks a list item given as ``{value: ...}``)
MATRIX_FIELDS = (
    "vendor", "packager", "flavors.hygon.summary", "flavors.hygon.release_suffix",
    "oses.bclinux7.name", "oses.bclinux7.dist", "oses.bclinux-euler.dist_suffix",
    "oses.bclinux7.koji.target", "oses.bclinux7.mock.chroot_setup",
    "oses.bclinux7.mock.repos.0.baseurl", "packages.qemu.version", "packages.qemu.summary",
    "packages.qemu.license", "packages.qemu.url", "packages.qemu.sources.0.url",
    "packages.qemu.buildrequires.0", "packages.libvirt-python.requires+",
    "packages.qemu.configure.0", "packages.qemu.configure+", "packages.qemu.release.0.value",
    "packages.qemu.changelog.0.lines.0", "packages.qemu.changelog.0.author",
    "packages.qemu.changelog.0.evr", "packages.qemu.replaces.0.old",
    "packages.qemu.replaces.0.by",
)

#: dotted paths into patches/qemu/ledger.yaml
LEDGER_FIELDS = ("patches.0.why", "patches.0.upstream.0")


def set_path(data: Any, dotted: str, value: str) -> None:
    """Set ``dotted`` (``a.b.0.c``) in ``data``; ``x+`` appends ``{value: ...}`` to list x."""
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if last.endswith("+"):
        node.setdefault(last[:-1], [])
        if node[last[:-1]] is None:
            node[last[:-1]] = []
        node[last[:-1]].append({"value": value})
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def inject(path: Path, dotted: str, value: str) -> None:
    """Rewrite the YAML file ``path`` with ``value`` at ``dotted``."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    set_path(data, dotted, value)
    path.write_text(yaml.dump(data, Dumper=_DUMPER, sort_keys=False, width=1000),
                    encoding="utf-8")


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
