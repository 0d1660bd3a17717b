"""Conformance run (opt-in, not CI): every generated mock config loaded by REAL mock's loader
(``mockbuild.config.load_config`` from a mock source tree you bring) and by the project's own
re-implementation (``tests/support/mockloader.py``), compared key by key.

    python -m tests.conformance.mock_config --mock-src DIR [--templated-dictionary-src DIR]

``DIR`` is a checkout of rpm-software-management/mock (``mock/py`` and
``mock-core-configs/etc/mock`` are used). Real mock's loader also needs ``jinja2 distro
pyroute2 backoff requests`` (pip) and templated-dictionary >= 1.5 (PyPI has only 1.2: give its
source tree). Without them the run says what is missing and exits 3.

Each cell is checked twice, vendor-only (the default) and with the template's repositories.
The configdir is mock-core-configs' ``etc/mock`` (its site-defaults.cfg included). Every key of
the project's loader must exist in mock's with the same rendered value, except keys that depend
on the host or process (listed in ``HOST_KEYS``); keys only mock has are counted (they are
mock defaults the generated configs never touch). Exit 0 when all match, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock as umock

ROOT = Path(__file__).resolve().parents[2]
#: values that differ between two loads for reasons outside the config (uids, host, time)
HOST_KEYS = frozenset({"chrootuid", "chrootgid", "chrootuser", "chrootgroup", "config_path",
                       "config_paths", "config_file", "chroot_name", "use_nspawn",
                       "__jinja_expand", "nspawn_args", "description", "resultdir",
                       "version"})   # a source tree says "unreleased_version"
#: dicts of defaults the project's loader models only in part: its ``*_enable`` switches
#: must match (its ``*_opts`` are empty placeholders)
PARTIAL_KEYS = frozenset({"plugin_conf"})


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="mock_config", description=__doc__.split("\n")[0])
    p.add_argument("--mock-src", type=Path, required=True, help="mock source tree")
    p.add_argument("--templated-dictionary-src", type=Path,
                   help="python-templated-dictionary source tree (>= 1.5)")
    p.add_argument("-C", "--tree", type=Path, default=ROOT, help="the packaging tree")
    return p.parse_args(argv)


def real_loader(args: argparse.Namespace) -> Any:
    for path in (args.mock_src / "mock" / "py", args.templated_dictionary_src):
        if path is not None:
            sys.path.insert(0, str(path))
    try:
        from mockbuild import config as real
    except ImportError as exc:
        print(f"mock_config: cannot import real mock's loader: {exc} (pip install jinja2 "
              "distro pyroute2 backoff requests; templated-dictionary >= 1.5 source via "
              "--templated-dictionary-src)", file=sys.stderr)
        raise SystemExit(3) from exc
    return real


def configs(tree: Path, configdir: Path) -> list[tuple[str, str]]:
    """(label, config text) of every cell, vendor-only and with the template's repos."""
    from pipeline.builds.builders.mock import MockBuilder
    from pipeline.matrix import load

    matrix = load.load(tree)
    out = []
    for template_repos in (False, True):
        builder = MockBuilder(matrix=matrix, config_dir=Path("/nonexistent"),
                              configdir=configdir, core_configs_version=(44, 2),
                              template_repos=template_repos)
        for cell in matrix.cells:
            label = f"{cell.id}{' +template-repos' if template_repos else ''}"
            out.append((label, builder.config_text(cell)))
    return out


def compare(ours: dict[str, Any], theirs: Any) -> tuple[list[str], int]:
    diffs = []
    for key in sorted(ours):
        if key in HOST_KEYS:
            continue
        if key not in theirs:
            diffs.append(f"  {key}: only in the project's loader")
            continue
        a, b = ours[key], theirs[key]
        if isinstance(a, dict):
            a, b = dict(a), dict(b)
            if key in PARTIAL_KEYS:
                a = {k: v for k, v in a.items() if k.endswith("_enable")}
                b = {k: v for k, v in b.items() if k in a}
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            a, b = list(a), list(b)
        if a != b:
            diffs.append(f"  {key}: project {a!r}\n  {' ' * len(key)}  mock    {b!r}")
    only_mock = len([k for k in theirs if k not in ours])
    return diffs, only_mock


def main(argv: list[str]) -> int:
    args = parse(argv)
    real = real_loader(args)
    sys.path.insert(0, str(args.tree))
    from tests.support import mockloader

    core = args.mock_src / "mock-core-configs" / "etc" / "mock"
    failed = 0
    with tempfile.TemporaryDirectory(prefix="mock-conformance-") as tmp:
        configdir = Path(tmp) / "etc-mock"
        shutil.copytree(core, configdir, symlinks=True)
        for label, text in configs(args.tree, configdir):
            cfg = Path(tmp) / f"{label.split()[0]}.cfg"
            cfg.write_text(text, encoding="utf-8")
            with umock.patch.object(real.os.path, "expanduser",
                                    lambda p: p.replace("~", tmp + "/nohome", 1)):
                theirs = real.load_config(str(configdir), str(cfg))
            real.check_config(theirs)
            ours = mockloader.expand_all(mockloader.load_config(configdir, str(cfg)))
            diffs, only_mock = compare(ours, theirs)
            state = "OK  " if not diffs else "DIFF"
            print(f"{state} {label}: {len(ours)} keys compared, {only_mock} mock-only defaults,"
                  f" repos {sections(theirs['dnf.conf'])}")
            for line in diffs:
                print(line)
            failed += bool(diffs)
    print(f"mock_config: {failed} config(s) differ" if failed else "mock_config: all configs "
          "load identically in real mock and in the project's loader")
    return 1 if failed else 0


def sections(conf: str) -> str:
    import re

    return ",".join(re.findall(r"^\[([^\]]+)\]$", conf, re.MULTILINE))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
