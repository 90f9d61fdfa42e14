"""Named queries: the ``schemas/queries/*.sql`` files (Athena / Trino dialect), their parameters, rendering.

File convention (one query per file, the file name is the query name)::

    -- name: top_users
    -- title: Top users
    -- description: one or more lines; continuation lines start with "--   ".
    -- param: start_dt date  First day included (YYYY-MM-DD).
    -- param: limit int[1,1000]  How many users to list.
    WITH deduped AS (...) SELECT ... WHERE dt >= :start_dt ... LIMIT :limit

Parameters are written ``:name`` (sqlglot parses them as placeholders). They are never pasted as
text: each value is validated against its declared kind (``date`` = ``YYYY-MM-DD``, ``int[lo,hi]``),
then the placeholder *nodes* of the parsed query are replaced by literal nodes and the SQL is
generated from the tree (https://sqlglot.com/sqlglot/expressions.html). Local runs translate the
rendered Trino SQL with ``sqlglot.transpile(read="trino", write="duckdb")`` so there is one copy of
every query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

REPO_ROOT = Path(__file__).resolve().parents[2]
QUERIES_DIR = REPO_ROOT / "schemas" / "queries"
#: The table name the queries read; the local runner binds it to a view, Athena may rename it.
TABLE = "spend"
#: Queries the report shows, in order (billing_lines feeds the billing export instead).
REPORT_QUERIES: tuple[str, ...] = (
    "spend_by_entity_day",
    "spend_by_model",
    "top_models_by_entity",
    "tenant_month_to_date",
    "top_users",
    "unattributed_invalid",
    "cache_savings",
    "premium_model_share",
)
DEFAULT_PARAMS: dict[str, int] = {"limit": 10, "top_models": 3, "small_output_tokens": 200, "top_n": 3}

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PARAM = re.compile(
    r"^(?P<name>[a-z_][a-z0-9_]*)\s+(?P<kind>date|int)(?:\[(?P<lo>-?\d+),(?P<hi>-?\d+)\])?\s*(?P<doc>.*)$"
)
#: Whole-history period used when no month is given.
ALL_TIME = ("2000-01-01", "2100-01-01")


class QueryError(ValueError):
    """A query file or a parameter value is invalid."""


@dataclass(frozen=True)
class Param:
    """One declared parameter."""

    name: str
    kind: str
    doc: str
    low: int | None = None
    high: int | None = None

    def validate(self, value: object) -> str | int:
        """The value as a literal-ready ``str`` (date) or ``int``; raises :class:`QueryError`."""
        if self.kind == "date":
            text = value.isoformat() if isinstance(value, date) else value
            if not isinstance(text, str) or not _DATE.match(text):
                raise QueryError(f"parameter {self.name}: not a YYYY-MM-DD date: {value!r}")
            try:
                date.fromisoformat(text)
            except ValueError as exc:
                raise QueryError(f"parameter {self.name}: not a calendar date: {value!r}") from exc
            return text
        if isinstance(value, bool):
            raise QueryError(f"parameter {self.name}: not an integer: {value!r}")
        if isinstance(value, str) and re.fullmatch(r"-?\d{1,12}", value.strip()):
            value = int(value)
        if not isinstance(value, int):
            raise QueryError(f"parameter {self.name}: not an integer: {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise QueryError(f"parameter {self.name}: {value} outside [{self.low}, {self.high}]")
        return value


@dataclass(frozen=True)
class NamedQuery:
    """A parsed query file."""

    name: str
    title: str
    description: str
    params: dict[str, Param]
    sql: str
    path: Path | None = None
    placeholders: frozenset[str] = field(default_factory=frozenset)

    def parse(self) -> exp.Expression:
        """The query parsed as Trino SQL (raising on any syntax error), with the shared ``deduped``
        CTE (``schemas/queries/_deduped.sql``) in front when the query reads ``deduped``."""
        return with_deduped(parse_trino(self.sql))

    def bind(self, values: Mapping[str, object]) -> dict[str, str | int]:
        """Validated values of every declared parameter (defaults from :data:`DEFAULT_PARAMS`)."""
        bound: dict[str, str | int] = {}
        for name, param in self.params.items():
            if name in values:
                raw = values[name]
            elif name in DEFAULT_PARAMS:
                raw = DEFAULT_PARAMS[name]
            else:
                raise QueryError(f"query {self.name}: parameter {name} is required")
            bound[name] = param.validate(raw)
        return bound

    def render(self, values: Mapping[str, object], dialect: str = "trino", table: str | None = None) -> str:
        """The SQL with parameters bound as literals, in ``dialect`` (``trino`` or ``duckdb``)."""
        bound = self.bind(values)
        tree = self.parse()

        def substitute(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Placeholder):
                value = bound[node.name]
                return exp.Literal.number(value) if isinstance(value, int) else exp.Literal.string(value)
            if table is not None and isinstance(node, exp.Table) and node.name == TABLE and not node.db:
                renamed = exp.to_table(table)
                return cast(exp.Expression, renamed.as_(node.alias) if node.alias else renamed)
            return node

        trino_sql = tree.transform(substitute).sql(dialect="trino", pretty=True)
        if dialect == "trino":
            return trino_sql
        return sqlglot.transpile(trino_sql, read="trino", write=dialect, pretty=True)[0]


def parse_trino(sql: str) -> exp.Expression:
    """Parse one Trino statement, raising :class:`sqlglot.errors.ParseError` on errors."""
    statements = sqlglot.parse(sql, read="trino", error_level=ErrorLevel.RAISE)
    real = [s for s in statements if s is not None]
    if len(real) != 1:
        raise QueryError(f"expected one statement, found {len(real)}")
    return cast(exp.Expression, real[0])


DEDUPED = "deduped"
DEDUPED_SQL = QUERIES_DIR / "_deduped.sql"


def with_deduped(tree: exp.Expression) -> exp.Expression:
    """Put the shared ``deduped`` CTE first in ``tree`` when it reads ``deduped`` without defining it."""
    defined = {cte.alias for cte in tree.find_all(exp.CTE)}
    reads = any(t.name == DEDUPED and not t.db for t in tree.find_all(exp.Table))
    if not reads or DEDUPED in defined:
        return tree
    cte = exp.CTE(
        this=parse_trino(DEDUPED_SQL.read_text(encoding="utf-8")),
        alias=exp.TableAlias(this=exp.to_identifier(DEDUPED)),
    )
    tree = tree.copy()
    existing = tree.args.get("with_")
    if existing is None:
        tree.set("with_", exp.With(expressions=[cte]))
    else:
        existing.set("expressions", [cte, *existing.expressions])
    return tree


def parse_query_text(text: str, path: Path | None = None) -> NamedQuery:
    """Read the header comments and the body of one query file."""
    meta: dict[str, str] = {}
    params: dict[str, Param] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        body = line[2:].strip()
        key, sep, value = body.partition(":")
        if sep and key in ("name", "title", "description"):
            meta[key] = value.strip()
            last = key
        elif sep and key == "param":
            match = _PARAM.match(value.strip())
            if not match:
                raise QueryError(f"{path}: bad param line: {line!r}")
            lo, hi = match.group("lo"), match.group("hi")
            params[match.group("name")] = Param(
                match.group("name"),
                match.group("kind"),
                match.group("doc"),
                int(lo) if lo is not None else None,
                int(hi) if hi is not None else None,
            )
            last = None
        elif last == "description" and line.startswith("--   "):
            meta["description"] += " " + body
    for key in ("name", "title", "description"):
        if key not in meta:
            raise QueryError(f"{path}: header lacks '-- {key}:'")
    name = meta["name"]
    if path is not None and path.stem != name:
        raise QueryError(f"{path}: file name must be {name}.sql")
    query = NamedQuery(name, meta["title"], meta["description"], params, text, path)
    used = frozenset(p.name for p in query.parse().find_all(exp.Placeholder))
    if used != set(params):
        raise QueryError(f"{path}: placeholders {sorted(used)} differ from declared {sorted(params)}")
    return NamedQuery(name, meta["title"], meta["description"], params, text, path, used)


def load_queries(directory: Path = QUERIES_DIR) -> dict[str, NamedQuery]:
    """Every ``*.sql`` query in ``directory``, by name."""
    queries: dict[str, NamedQuery] = {}
    for path in sorted(directory.glob("*.sql")):
        if path.name.startswith("_"):  # shared pieces, e.g. _deduped.sql
            continue
        query = parse_query_text(path.read_text(encoding="utf-8"), path)
        queries[query.name] = query
    return queries


def month_period(month: str | None) -> dict[str, str]:
    """``start_dt``/``end_dt`` (end exclusive) of ``YYYY-MM``, or the whole history for ``None``."""
    if month is None:
        return {"start_dt": ALL_TIME[0], "end_dt": ALL_TIME[1]}
    match = _MONTH.match(month)
    if not match:
        raise QueryError(f"month must be YYYY-MM: {month!r}")
    year, mon = int(match.group(1)), int(match.group(2))
    start = date(year, mon, 1)
    end = date(year + 1, 1, 1) if mon == 12 else date(year, mon + 1, 1)
    return {"start_dt": start.isoformat(), "end_dt": end.isoformat()}
