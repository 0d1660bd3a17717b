"""Credentials in URLs never leave the program: one function, used by every output path.

A koji ``server`` or a repo ``baseurl`` may carry ``user:password@``; the error formatting in
``pipeline.cli``, the command logger and log files of ``pipeline.core.cmd``, and the JSON
output of ``pipeline.context`` all pass their text through :func:`redact`.
"""

from __future__ import annotations

import re
from typing import Any

#: ``scheme://userinfo@``: the userinfo (user, and password if any) is replaced
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/@\s'\"]+)@")
#: ``password=...`` / ``token=...`` in a query string or a config line
_SECRET_PARAM = re.compile(r"(?i)\b(password|passwd|token|secret)=([^&\s'\"]+)")


def redact(text: str) -> str:
    """``text`` with URL credentials and password/token parameters replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)


def redact_data(data: Any) -> Any:
    """``data`` (JSON-like) with every string redacted."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {redact_data(k): redact_data(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(v) for v in data]
    return data
