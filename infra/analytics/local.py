"""Run the named queries locally with DuckDB over a directory of spend records.

The directory holds ``spend/entity_type=<t>/entity_id=<id>/dt=<YYYY-MM-DD>/<object>`` (NDJSON, gzip
``.gz`` or plain), as Firehose writes it to S3. The query's table ``spend`` is a DuckDB view over
``read_json`` with hive partitioning (partition values typed VARCHAR, never auto-cast: an entity id
``0042`` stays a string) and explicit column types from ``schemas/spend_record.avsc`` — money is
``DECIMAL(24,12)``, parsed exactly from the JSON text
(https://duckdb.org/docs/stable/data/json/loading_json,
https://duckdb.org/docs/stable/data/partitioning/hive_partitioning).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.analytics.queries import QUERIES_DIR, REPO_ROOT, TABLE, NamedQuery, load_queries
from infra.analytics.results import QueryResult, Value

SPEND_RECORD_AVSC = REPO_ROOT / "schemas" / "spend_record.avsc"
PARTITION_COLUMNS = ("entity_type", "entity_id", "dt")


def _duckdb_type(avro: Any) -> str:
    if isinstance(avro, list):
        (inner,) = [t for t in avro if t != "null"]
        return _duckdb_type(inner)
    if isinstance(avro, dict):
        if avro.get("logicalType") == "decimal":
            return f"DECIMAL({avro['precision']},{avro['scale']})"
        if avro.get("type") == "map":
            return f"MAP(VARCHAR, {_duckdb_type(avro['values'])})"
        return _duckdb_type(avro["type"])
    return {"string": "VARCHAR", "long": "BIGINT", "int": "INTEGER", "boolean": "BOOLEAN"}[str(avro)]


def spend_columns(avsc: Path = SPEND_RECORD_AVSC) -> dict[str, str]:
    """DuckDB column types of the spend record, partition columns excluded (they come from the path)."""
    schema = json.loads(avsc.read_text(encoding="utf-8"))
    return {
        f["name"]: _duckdb_type(f["type"]) for f in schema["fields"] if f["name"] not in PARTITION_COLUMNS
    }


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def spend_root(data_dir: Path) -> Path:
    """The directory holding ``entity_type=*`` (``data_dir/spend`` or ``data_dir`` itself)."""
    candidate = data_dir / "spend"
    return candidate if candidate.is_dir() else data_dir


class LocalRunner:
    """Binds the table ``spend`` to the files under ``data_dir`` and runs named queries on it."""

    def __init__(self, data_dir: Path, queries: Mapping[str, NamedQuery] | None = None) -> None:
        import duckdb

        self.data_dir = Path(data_dir)
        self.queries = dict(queries) if queries is not None else load_queries(QUERIES_DIR)
        self.connection = duckdb.connect(":memory:")
        self._create_view()

    def _create_view(self) -> None:
        columns = spend_columns()
        root = spend_root(self.data_dir)
        files = [p for p in root.glob("entity_type=*/entity_id=*/dt=*/*") if p.is_file()]
        if files:
            struct = ", ".join(f"{_sql_string(k)}: {_sql_string(v)}" for k, v in columns.items())
            hive_types = ", ".join(f"{_sql_string(c)}: 'VARCHAR'" for c in PARTITION_COLUMNS)
            pattern = (root / "entity_type=*" / "entity_id=*" / "dt=*" / "*").as_posix()
            source = (
                f"read_json({_sql_string(pattern)}, format = 'newline_delimited', compression = 'auto', "
                f"hive_partitioning = true, hive_types = {{{hive_types}}}, columns = {{{struct}}})"
            )
            select = ", ".join([*columns, *PARTITION_COLUMNS])
            self.connection.execute(f"CREATE OR REPLACE VIEW {TABLE} AS SELECT {select} FROM {source}")
        else:  # no files yet: an empty, fully typed table
            typed = ", ".join(
                [f"CAST(NULL AS {t}) AS {c}" for c, t in columns.items()]
                + [f"CAST(NULL AS VARCHAR) AS {c}" for c in PARTITION_COLUMNS]
            )
            self.connection.execute(f"CREATE OR REPLACE VIEW {TABLE} AS SELECT {typed} WHERE false")

    def sql(self, name: str, params: Mapping[str, object]) -> str:
        """The DuckDB SQL of a named query with ``params`` bound."""
        return self.query(name).render(params, dialect="duckdb")

    def query(self, name: str) -> NamedQuery:
        """A named query (``KeyError`` names the known ones)."""
        try:
            return self.queries[name]
        except KeyError:
            raise KeyError(f"unknown query {name!r}; known: {', '.join(sorted(self.queries))}") from None

    def run(self, name: str, params: Mapping[str, object]) -> QueryResult:
        """Run one named query and return every row."""
        relation = self.connection.execute(self.sql(name, params))
        description = relation.description or []
        rows: tuple[tuple[Value, ...], ...] = tuple(tuple(r) for r in relation.fetchall())
        return QueryResult(
            name,
            tuple(d[0] for d in description),
            tuple(str(d[1]) for d in description),
            rows,
        )

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.connection.close()
