"""Safe, injective names for entities: one form valid as an S3 key segment and inside a log-group name.

Contract (see README "Entity ids"):

* Output alphabet ``[A-Za-z0-9._#-]``; never contains ``/`` or ``..``; never starts with ``.``; never empty.
  CloudWatch Logs group names allow ``[.\\-_/#A-Za-z0-9]``
  (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html) and
  these characters need no escaping in an S3 key
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
* Injective and reversible: every other character (and ``#`` itself, and a ``.`` that would start the
  name or follow another ``.``) becomes ``#XX`` per UTF-8 byte, upper-case hex. :func:`decode` inverts it.
* Bounded: a form longer than :data:`MAX_ENTITY_ID` is cut and suffixed with ``#-`` and 16 hex digits of
  the SHA-256 of the original name. ``#-`` never occurs in an unbounded form, so a bounded id cannot
  equal an unbounded one, and two long names share an id only on a 64-bit hash collision.
"""

from __future__ import annotations

import hashlib
import re
import string

#: Longest entity id; keeps `spend/entity_type=…/entity_id=…/dt=…/` far below Firehose's 512 chars.
MAX_ENTITY_ID = 128
_HASH_MARK = "#-"
_HASH_HEX = 16
_PLAIN = frozenset(string.ascii_letters + string.digits + "_-")
_ESCAPE = re.compile(r"#([0-9A-F]{2})")


class NameError_(ValueError):
    """An entity id that cannot be decoded."""


def _escape(ch: str) -> str:
    return "".join(f"#{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))


def safe_name(name: str) -> str:
    """Encode ``name`` into its safe entity-id form (see module contract)."""
    if not name:
        return "#"  # the empty name; '#' alone never results from a non-empty name
    out: list[str] = []
    prev_dot = True  # a leading '.' is escaped
    for ch in name:
        if ch in _PLAIN:
            out.append(ch)
            prev_dot = False
        elif ch == "." and not prev_dot:
            out.append(ch)
            prev_dot = True
        else:
            out.append(_escape(ch))
            prev_dot = False
    encoded = "".join(out)
    if len(encoded) <= MAX_ENTITY_ID:
        return encoded
    cut = MAX_ENTITY_ID - len(_HASH_MARK) - _HASH_HEX
    head = encoded[:cut]
    hash_pos = head.rfind("#", max(0, cut - 2))
    if hash_pos != -1:  # do not leave half an escape before the marker
        head = head[:hash_pos]
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_HEX]
    return f"{head}{_HASH_MARK}{digest}"


def is_bounded(entity_id: str) -> bool:
    """True when ``entity_id`` is the cut-and-hashed form of a long name (not reversible)."""
    return _HASH_MARK in entity_id


def decode(entity_id: str) -> str:
    """Invert :func:`safe_name` for ids that were not bounded; raises :class:`NameError_` otherwise."""
    if entity_id == "#":
        return ""
    if is_bounded(entity_id):
        raise NameError_(f"{entity_id!r} is the bounded form of a long name; see the record's entity_name")
    raw = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(entity_id):
        raw += entity_id[pos : match.start()].encode("ascii")
        raw.append(int(match.group(1), 16))
        pos = match.end()
    raw += entity_id[pos:].encode("ascii")
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise NameError_(f"{entity_id!r} does not decode to UTF-8") from exc
