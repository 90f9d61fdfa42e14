"""Backfill checkpoints: where a run stopped, so that the next run resumes there.

A checkpoint is one small JSON document, saved after every page has been delivered:
``{"version", "source": <source identity>, "mode", "position": <resume after this>, "counts",
"done", "updated_at"}``. It lives in a local file (written to a temporary file, then renamed, so
a crash never leaves half a document) or in an S3 object (``s3://bucket/key``; one ``PutObject``
is atomic). A checkpoint of another source or window is never silently reused.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

VERSION = 1


class CheckpointMismatch(RuntimeError):
    """The stored checkpoint belongs to another source, window or mode."""


@dataclass
class Counts:
    """Running totals of a backfill (kept across resumes)."""

    pages: int = 0
    events: int = 0
    records: int = 0
    objects: int = 0
    failed: int = 0
    bytes: int = 0

    def add(self, other: Counts) -> None:
        """Add ``other`` in place."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Checkpoint:
    """The state of one backfill."""

    source: dict[str, Any]
    mode: str
    position: dict[str, Any] | None = None
    counts: Counts = field(default_factory=Counts)
    done: bool = False
    runs: int = 0
    updated_at: str = ""
    version: int = VERSION

    def to_json(self) -> bytes:
        """The document as stored."""
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes | str) -> Checkpoint:
        """Parse a stored document; raises ``ValueError`` on another version or a bad shape."""
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise ValueError(f"not a version {VERSION} backfill checkpoint")
        counts = Counts(**doc.get("counts", {}))
        return cls(
            source=dict(doc["source"]),
            mode=str(doc["mode"]),
            position=doc.get("position"),
            counts=counts,
            done=bool(doc.get("done", False)),
            runs=int(doc.get("runs", 0)),
            updated_at=str(doc.get("updated_at", "")),
        )

    def check(self, source: dict[str, Any], mode: str) -> None:
        """Raise :class:`CheckpointMismatch` unless this checkpoint is of ``source`` in ``mode``."""
        if self.source != source or self.mode != mode:
            raise CheckpointMismatch(
                f"the checkpoint is of {self.source} ({self.mode}), not of {source} ({mode}); "
                "use another --checkpoint or --restart"
            )


class CheckpointStore(Protocol):
    """Loads and saves one checkpoint."""

    def load(self) -> Checkpoint | None:
        """The stored checkpoint, or ``None``."""
        ...

    def save(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` (replacing the previous one)."""
        ...

    def clear(self) -> None:
        """Forget the stored checkpoint."""
        ...


def _stamp(checkpoint: Checkpoint) -> bytes:
    checkpoint.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
    return checkpoint.to_json()


class FileCheckpointStore:
    """A checkpoint in a local JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> Checkpoint | None:
        if not self.path.exists():
            return None
        return Checkpoint.from_json(self.path.read_bytes())

    def save(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(_stamp(checkpoint))
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def __str__(self) -> str:
        return str(self.path)


class S3CheckpointStore:
    """A checkpoint in an S3 object."""

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key

    def load(self) -> Checkpoint | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return Checkpoint.from_json(body)

    def save(self, checkpoint: Checkpoint) -> None:
        self.s3.put_object(
            Bucket=self.bucket, Key=self.key, Body=_stamp(checkpoint), ContentType="application/json"
        )

    def clear(self) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def open_store(location: str, s3: Any | None = None) -> CheckpointStore:
    """A store for ``location``: ``s3://bucket/key`` (needs ``s3``) or a local path."""
    if location.startswith("s3://"):
        bucket, _, key = location[5:].partition("/")
        if not bucket or not key:
            raise ValueError(f"checkpoint URI needs a bucket and a key: {location!r}")
        if s3 is None:
            raise ValueError("an S3 checkpoint needs an S3 client")
        return S3CheckpointStore(s3, bucket, key)
    return FileCheckpointStore(Path(location))
