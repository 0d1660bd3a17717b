"""Bounded parsing of untrusted XML (domain dumps, cpu map files): a size limit, no DTD.

defusedxml (``forbid_dtd``) refuses DTDs, entity declarations and external references; a
size limit bounds the rest. Errors are InputError with the file and line.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from pipeline.core.errors import InputError

#: a libvirt domain dump or cpu map file is a few tens of KiB; anything near this is not one
MAX_BYTES = 4 * 1024 * 1024
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def parse_file(path: Path, *, max_bytes: int = MAX_BYTES) -> ET.Element:
    """The root element of ``path``; InputError (FILE:LINE) when it is not small, plain XML."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    return parse_bytes(data, str(path), max_bytes=max_bytes)


def parse_bytes(data: bytes, name: str, *, max_bytes: int = MAX_BYTES) -> ET.Element:
    if len(data) > max_bytes:
        raise InputError(f"larger than {max_bytes} bytes; refused", file=name)
    dtd = _DTD.search(data)
    if dtd:
        line = data.count(b"\n", 0, dtd.start()) + 1
        raise InputError("a DTD or entity declaration; refused", file=name, line=line)
    try:
        root: ET.Element = SafeET.fromstring(data, forbid_dtd=True)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(f"invalid XML: {exc}", file=name, line=line) from None
    except DefusedXmlException as exc:
        raise InputError(f"refused: {exc}", file=name) from None
    return root
