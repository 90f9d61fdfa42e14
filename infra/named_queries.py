"""Athena named queries in ``infra/template.yaml``, generated from ``schemas/queries/*.sql``.

One copy of each query: the ``.sql`` files (Trino) are the source; this module renders each with its
``:name`` parameters turned into Athena's positional execution parameters (``?``, in order of
appearance — the Athena console asks for them; ``StartQueryExecution`` takes them as
``ExecutionParameters``, https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements.html)
against the ``spend_records_all`` table, and writes ``AWS::Athena::NamedQuery`` resources between two
marker lines of the template. ``python -m infra.named_queries`` rewrites them; a test fails when the
template is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

from sqlglot import exp

from infra.analytics.queries import TABLE, load_queries

TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
BEGIN = "  # BEGIN GENERATED NAMED QUERIES (python -m infra.named_queries; source: schemas/queries/*.sql)\n"
END = "  # END GENERATED NAMED QUERIES\n"
ATHENA_TABLE = "spend_records_all"


def positional_sql(name: str) -> tuple[str, list[str]]:
    """The query with ``?`` parameters, and the parameter names in the order Athena expects."""
    query = load_queries()[name]
    order: list[str] = []

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            order.append(node.name)
            return exp.Placeholder()
        if isinstance(node, exp.Table) and node.name == TABLE and not node.db:
            renamed = exp.to_table(ATHENA_TABLE)
            return cast(exp.Expression, renamed.as_(node.alias) if node.alias else renamed)
        return node

    sql = query.parse().transform(substitute).sql(dialect="trino", pretty=True)
    return sql, order


def _logical_id(name: str) -> str:
    return "NamedQuery" + "".join(part.capitalize() for part in name.split("_"))


def render() -> str:
    """The YAML block of every named query."""
    lines = [BEGIN]
    for name, query in sorted(load_queries().items()):
        sql, order = positional_sql(name)
        params = ", ".join(order) if order else "none"
        description = f"{query.title}. Parameters (?, in order): {params}. Source: schemas/queries/{name}.sql"
        lines += [
            f"  {_logical_id(name)}:\n",
            "    Type: AWS::Athena::NamedQuery\n",
            "    Properties:\n",
            f'      Name: !Sub "${{NamePrefix}}-{name}"\n',
            "      Database: !Ref GlueDatabase\n",
            "      WorkGroup: !Ref AthenaWorkGroup\n",
            f"      Description: {description[:1024]!r}\n".replace("'", '"'),
            "      QueryString: |\n",
            *(f"        {line}\n" if line else "\n" for line in sql.splitlines()),
        ]
    lines.append(END)
    return "".join(lines)


def updated_template(text: str) -> str:
    """``text`` with the generated block replaced (or inserted after the NAMED QUERIES banner)."""
    block = render()
    if BEGIN in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + block + tail
    anchor = "  # NAMED QUERIES (AWS::Athena::NamedQuery)"
    head, sep, rest = text.partition(anchor)
    if not sep:
        raise SystemExit("template has no NAMED QUERIES banner")
    banner_end = rest.index("\n\n") + 2
    return head + sep + rest[:banner_end] + block + rest[banner_end:]


def main() -> int:
    """Rewrite the template's generated block."""
    text = TEMPLATE.read_text(encoding="utf-8")
    new = updated_template(text)
    if new != text:
        TEMPLATE.write_text(new, encoding="utf-8")
        print(f"updated {TEMPLATE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
