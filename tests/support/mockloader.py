"""A re-implementation of how mock loads ``-r X`` (test support; mock is not installable here).

Written from the checklist in shared notes koji-mock.md 6.1 and 6.4 ("option B"), not from
mock's code. What it reproduces, point by point:

- defaults: the mock defaults a config relies on (``+=`` on ``yum_install_command``, the
  ``macros`` and ``plugin_conf`` dicts, ``target_arch='i386'``, ``user_agent``...);
- ``config_opts`` is a templated dictionary: ``yum.conf``/``dnf4.conf``/``dnf5.conf`` are
  aliases of ``dnf.conf`` (and ``dnf_*`` of ``dnf4_*``); once loading ends values are rendered
  with jinja lazily, on access, up to 5 times until stable, against the whole dict;
- ``-r NAME.cfg`` is a path (chroot_name = basename), otherwise ``<configdir>/NAME.cfg``;
  load order site-defaults.cfg, chroot-aliases.cfg, the chroot cfg, then user files;
- textual ``include()``: lines *starting* with ``include(`` are replaced, recursively, by the
  file's text, relative paths against the configdir (not the including file), a second
  inclusion of one file is skipped, a missing file is a ConfigError; the splice uses
  ``re.sub`` with a *string* replacement, so backslash escapes in included text are processed
  (a bad escape is an uncaught ``re.error``: mock exits 1);
- each file is exec'd with module-like globals and ``config_opts`` as a *local*, so rebinding
  ``config_opts = {...}`` is silently ignored; any exception becomes a ConfigError (exit 3);
- after each file the macros are normalised (``dist`` -> ``%dist``; empty value, ``0`` or a
  key with whitespace is BadCmdline, exit 5; ``None`` is allowed);
- ``check_config``: ``root`` is required (exit 3).
"""

from __future__ import annotations

import ast
import glob
import grp
import json
import logging
import os
import pwd
import re
import shlex
import socket
import sys
import uuid
import warnings
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

MOCK_VERSION = "6.7"
JINJA_MAX_RENDERS = 5
_INCLUDE_LINE = re.compile(r"^\s*include\((.*)\)", re.MULTILINE)

log = logging.getLogger("mockloader")


class ConfigError(Exception):
    exit_code = 3


class BadCmdline(Exception):
    exit_code = 5


def _aliases() -> dict[str, str]:
    table = {name: "dnf.conf" for name in ("yum.conf", "dnf4.conf", "dnf5.conf")}
    for option in ("command", "common_opts", "install_command", "disable_plugins",
                   "avoid_opts", "builddep_opts"):
        table[f"dnf_{option}"] = f"dnf4_{option}"
    for manager in ("dnf4", "dnf5", "yum", "microdnf"):
        table[f"system_{manager}_command"] = f"{manager}_system_command"
    table["system_dnf_command"] = "dnf4_system_command"
    return table


class ConfigOpts(MutableMapping[str, Any]):
    """Aliased keys; after ``expand()``, string values are rendered with jinja on access."""

    ALIASES = _aliases()

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self._env = SandboxedEnvironment(keep_trailing_newline=True)

    def expand(self) -> None:
        self.data["__jinja_expand"] = True

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[self.ALIASES.get(key, key)] = value

    def __getitem__(self, key: str) -> Any:
        value = self.data[self.ALIASES.get(key, key)]
        return self._render(value) if self.data.get("__jinja_expand") else value

    def __delitem__(self, key: str) -> None:
        del self.data[self.ALIASES.get(key, key)]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.ALIASES.get(key, key) in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def _render(self, value: Any) -> Any:
        # lists and dicts are rendered in place: configs keep references to them
        if isinstance(value, str):
            return self._render_text(value)
        if isinstance(value, list):
            for index, item in enumerate(value):
                value[index] = self._render(item)
        elif isinstance(value, dict):
            for key in list(value):
                value[key] = self._render(value[key])
        return value

    def _render_text(self, text: str) -> str:
        previous = text
        for _ in range(int(self.data.get("jinja_max_recursion", JINJA_MAX_RENDERS))):
            rendered = self._env.from_string(previous).render(self.data)
            if rendered == previous:
                return rendered
            previous = rendered
        raise ValueError(f"too deep jinja re-evaluation on {text!r}")


def default_opts(configdir: Path) -> ConfigOpts:
    """The mock defaults that generated configs and mock-core-configs templates rely on."""
    opts = ConfigOpts()
    values: dict[str, Any] = {
        "config_paths": [], "version": MOCK_VERSION, "config_path": str(configdir),
        "basedir": "/var/lib/mock", "cache_topdir": "/var/cache/mock",
        "resultdir": "{{basedir}}/{{root}}/result", "chroothome": "/builddir",
        "chrootuid": os.getuid(), "use_container_host_hostname": True,
        "use_bootstrap": True, "use_bootstrap_image": True, "bootstrap_image": "fedora:latest",
        "bootstrap_image_fallback": True, "rpmbuild_networking": False,
        "rpmbuild_timeout": 0, "cleanup_on_success": True, "cleanup_on_failure": True,
        "chroot_setup_cmd": ("groupinstall", "buildsys-build"), "target_arch": "i386",
        "releasever": None, "rpmbuild_arch": None, "dnf_vars": {}, "files": {},
        "extra_chroot_dirs": [], "forcearch": None, "package_manager": "dnf",
        "dnf_warning": True, "yum_command": "/usr/bin/yum",
        "yum_install_command": "install yum yum-utils", "yum_common_opts": [],
        "yum_builddep_opts": [], "dnf4_command": "/usr/bin/dnf-3",
        "dnf4_install_command": "install python3-dnf python3-dnf-plugins-core",
        "dnf4_common_opts": ["--setopt=deltarpm=False", "--setopt=allow_vendor_change=yes",
                             "--allowerasing"],
        "user_agent": "Mock ({{ root }}; {{ target_arch }})",
        "no-config": {},  # filled by mock-core-configs' chroot-aliases.cfg
        "macros": {"%_topdir": "/builddir/build",
                   "%_rpmfilename": "%%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm"},
        "plugin_conf": {"root_cache_enable": True, "yum_cache_enable": True,
                        "ccache_enable": False, "hw_info_enable": True,
                        "package_state_enable": True, "root_cache_opts": {},
                        "yum_cache_opts": {}},
    }
    for key, value in values.items():
        opts[key] = value
    return opts


def load_config(configdir: Path, name: str, *, user_files: tuple[Path, ...] = ()) -> ConfigOpts:
    """Load ``-r name`` as mock does; ``user_files`` stand for ~/.mock/user.cfg and
    ~/.config/mock.cfg (left out by default so a developer's own files never leak in)."""
    opts = default_opts(configdir)
    opts["chroot_name"] = name
    if name.endswith(".cfg"):
        chroot_cfg = Path(name)
        opts["chroot_name"] = chroot_cfg.stem
    else:
        chroot_cfg = Path(f"{configdir}/{name}.cfg")  # joined as text: "/etc/mock//abs/x.cfg"
    opts["config_file"] = str(chroot_cfg)
    for optional in (configdir / "site-defaults.cfg", configdir / "chroot-aliases.cfg"):
        if optional.exists():
            _update_from_file(opts, optional)
    if not chroot_cfg.exists():
        hint = " (a path needs the .cfg extension)" if "/" in name else ""
        raise ConfigError(f"Non-existing Mock config {name!r}{hint}")
    _update_from_file(opts, chroot_cfg)
    for user_file in user_files:
        if user_file.exists():
            _update_from_file(opts, user_file)
    if opts["use_container_host_hostname"] and "%_buildhost" not in opts["macros"]:
        opts["macros"]["%_buildhost"] = socket.getfqdn()
    opts.expand()
    return opts


def check_config(opts: ConfigOpts) -> None:
    if "root" not in opts:
        raise ConfigError("Error in configuration - option config_opts['root'] must be present")


def expand_all(opts: ConfigOpts) -> dict[str, Any]:
    """Read (so render) every value, as a plain dict; jinja errors surface here, as in mock."""
    return {key: opts[key] for key in list(opts)}


def resolve_includes(path: str, configdir: Path, seen: set[str]) -> str:
    """The text of ``path`` with its ``include()`` lines replaced, mock's way."""
    full = path if os.path.isabs(path) else os.path.join(str(configdir), path)
    if not os.path.exists(full):
        raise ConfigError(f"Could not find included config file: {full}")
    if full in seen:
        log.warning("Multiple inclusion of %s, skipping", full)
        return ""
    seen.add(full)
    text = Path(full).read_text(encoding="utf-8")
    for argument in _INCLUDE_LINE.findall(text):
        target = eval(argument)  # mock evaluates the argument the same way
        nested = resolve_includes(target, configdir, seen)
        # a string replacement: backslash escapes in the included text ARE processed
        text = _INCLUDE_LINE.sub(nested, text, count=1)
    return text


def _update_from_file(opts: ConfigOpts, path: Path) -> None:
    real = os.path.realpath(path)
    included: set[str] = set()
    content = resolve_includes(real, Path(str(opts["config_path"])), included)
    namespace = _module_globals()
    local_ns: dict[str, Any] = {"config_opts": opts, "config_file": real,
                                "included_files": included, "content": content}
    try:
        exec(content, namespace, local_ns)  # mock executes config files
    except Exception as exc:
        raise ConfigError(f"Config error: {real}: {exc}") from exc
    opts["config_paths"] = sorted(set(opts["config_paths"]) | included)
    normalise_macros(opts)


def normalise_macros(opts: ConfigOpts) -> None:
    macros = opts["macros"]
    for key in list(macros):
        value = macros[key]
        if not key or (not value and value is not None) or len(key.split()) != 1:
            raise BadCmdline(f"Bad macros 'config_opts['macros']['{key}'] = ['{value}']'")
        if not key.startswith("%"):
            del macros[key]
            macros["%" + key] = value


def _include_from_exec(config_file: str, search_path: str, paths: set[str]) -> str:
    """What an ``include(`` not at a line start reaches: mock's 3-argument function."""
    return resolve_includes(config_file, Path(search_path), paths)


def _module_globals() -> dict[str, Any]:
    return {"__builtins__": __builtins__, "os": os, "re": re, "sys": sys, "json": json,
            "glob": glob.glob, "pwd": pwd, "grp": grp, "shlex": shlex, "socket": socket,
            "uuid": uuid, "logging": logging, "warnings": warnings,
            "literal_eval": ast.literal_eval, "TemplatedDictionary": ConfigOpts,
            "MOCKCONFDIR": "/etc/mock", "VERSION": MOCK_VERSION,
            "include": _include_from_exec}
