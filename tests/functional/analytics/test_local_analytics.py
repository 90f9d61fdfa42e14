"""Local analytics on records made by the real transform: exact totals, de-duplication, billing, HTML."""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import fastavro
import jsonschema
import pyarrow.parquet as pq
import pytest

from infra.analytics import run_report, write_html_report
from infra.analytics.billing import export_billing
from infra.analytics.local import LocalRunner
from infra.analytics.queries import month_period
from infra.commands import bill, report
from tests.analytics_data import dedupe, write_fixture, write_records

NOV = month_period("2025-11")
SCHEMA = json.loads((Path(__file__).parents[3] / "schemas" / "spend_record.schema.json").read_text())
# Hand-computed from the catalogue rates (USD per token) and the fixture's token counts.
EXPECTED_BY_ENTITY = {
    ("tenant", "acme"): Decimal("0.0105") + Decimal("0.0255") + Decimal("0.0032552"),  # r-10 unpriced
    ("tenant", "globex"): Decimal("0.04875"),
    ("user", "jane.doe#40example.com"): Decimal("0.069") + Decimal("0.0020336"),
    ("user", "bob#40example.com"): Decimal("0.00033"),
    ("ci", "main"): Decimal("0.044"),
    ("unattributed", "999999999999"): Decimal("0.0018"),
    ("invalid", "unknown"): Decimal("0"),
}
EXPECTED_TOTAL = Decimal("0.2051688")


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return write_fixture(tmp_path_factory.mktemp("single"))


@pytest.fixture(scope="module")
def doubled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return write_fixture(tmp_path_factory.mktemp("doubled"), duplicate=True)


def _by_entity(root: Path) -> dict[tuple[str, str], Decimal]:
    runner = LocalRunner(root)
    totals: dict[tuple[str, str], Decimal] = {}
    for row in runner.run("spend_by_entity_day", NOV).dicts():
        key = (str(row["entity_type"]), str(row["entity_id"]))
        cost = row["cost_usd"]
        assert isinstance(cost, Decimal)
        totals[key] = totals.get(key, Decimal(0)) + cost
    return totals


def test_fixture_records_are_valid_spend_records(single: Any) -> None:
    for record in single.records:
        jsonschema.validate(json.loads(json.dumps(record, default=float)), SCHEMA)
    assert {p.suffix for p in single.files} == {".gz", ""}


def test_local_totals_equal_hand_computed_decimals(single: Any) -> None:
    assert _by_entity(single.root) == EXPECTED_BY_ENTITY
    assert sum(EXPECTED_BY_ENTITY.values()) == EXPECTED_TOTAL


def test_duplicated_deliveries_do_not_change_totals(doubled: Any) -> None:
    assert len(doubled.records) == len(dedupe(doubled.records)) and len(doubled.files) % 2 == 0
    assert _by_entity(doubled.root) == EXPECTED_BY_ENTITY
    model = LocalRunner(doubled.root).run("spend_by_model", NOV)
    assert sum(model.column("requests")) == 10  # type: ignore[arg-type]  # 10 valid November invocations


def test_report_queries_on_the_fixture(doubled: Any) -> None:
    results = run_report(LocalRunner(doubled.root), "2025-11", overrides={"top_models": 1})
    mtd = {r["tenant_id"]: r for r in results["tenant_month_to_date"].dicts()}
    assert mtd["acme"]["cost_usd"] == Decimal("0.0392552") and mtd["acme"]["unpriced_requests"] == 1
    top = list(results["top_users"].dicts())
    assert [u["user_name"] for u in top] == ["jane.doe@example.com", "bob@example.com"]
    dead = {(r["entity_type"], r["entity_id"]): r for r in results["unattributed_invalid"].dicts()}
    assert dead[("invalid", "unknown")]["records"] == 1
    assert dead[("unattributed", "999999999999")]["cost_usd"] == Decimal("0.0018")
    cache = {(r["entity_id"], r["model"]): r for r in results["cache_savings"].dicts()}
    acme = cache[("acme", "anthropic.claude-3-5-sonnet-20241022-v2:0")]
    assert acme["read_savings_usd"] == Decimal("0.027")  # 10000 x (3e-6 - 3e-7)
    assert acme["write_premium_usd"] == Decimal("0.003")  # 4000 x (3.75e-6 - 3e-6)
    assert acme["net_savings_usd"] == Decimal("0.024")
    premium = {r["entity_id"]: r for r in results["premium_model_share"].dicts()}
    assert premium["jane.doe#40example.com"]["premium_cost_usd"] == Decimal("0.069")
    assert premium["jane.doe#40example.com"]["premium_share_pct"] == Decimal("97.14")
    assert premium["globex"]["premium_short_requests"] == 1


def test_october_record_is_outside_november_but_in_all_time(single: Any) -> None:
    runner = LocalRunner(single.root)
    all_time = run_report(runner, None, ["tenant_month_to_date"])["tenant_month_to_date"]
    acme = next(r for r in all_time.dicts() if r["tenant_id"] == "acme")
    assert acme["cost_usd"] == Decimal("0.0392552") + Decimal("0.000018")


def test_empty_directory_gives_empty_typed_results(tmp_path: Path) -> None:
    result = LocalRunner(tmp_path).run("spend_by_model", NOV)
    assert result.rows == () and "cost_usd" in result.columns


def test_invalid_records_without_log_event_id_are_all_kept(tmp_path: Path) -> None:
    base = {k: None for k in SCHEMA["required"]}
    records = [
        {
            **base,
            "schema_version": "1",
            "dt": "2025-11-09",
            "entity_type": "invalid",
            "entity_id": "unknown",
            "pricing_status": "invalid",
            "raw_message": f"junk {i}",
            "invalid_reason": "not JSON",
        }
        for i in range(3)
    ]
    for rec in records:
        jsonschema.validate(rec, SCHEMA)
    write_records(tmp_path, records)
    result = LocalRunner(tmp_path).run("unattributed_invalid", NOV)
    assert result.column("records") == [3]


def test_billing_export_round_trips_and_reconciles(doubled: Any, tmp_path: Path) -> None:
    result = export_billing(doubled.root, "2025-11", tmp_path)
    source = [r for r in dedupe(doubled.records) if r["dt"].startswith("2025-11")]
    source_total = sum((r["estimated_cost_usd"] or Decimal(0) for r in source), Decimal(0))
    assert result.total == source_total == EXPECTED_TOTAL
    avro_lines = list(fastavro.reader(result.avro_path.open("rb")))
    parquet_lines = pq.read_table(result.parquet_path).to_pylist()
    assert avro_lines == parquet_lines and len(avro_lines) == result.line_count
    for lines in (avro_lines, parquet_lines):
        total = sum((line["cost_usd"] for line in lines), Decimal(0))
        assert abs(total - source_total) < Decimal("1e-12")
        assert sum(line["input_tokens"] for line in lines) == sum(r["input_tokens"] or 0 for r in source)
    keys = [(line["dt"], line["entity_type"], line["entity_id"], line["model"]) for line in avro_lines]
    assert len(keys) == len(set(keys))
    manifest = json.loads(result.manifest_path.read_text())
    assert (
        Decimal(manifest["totals"]["cost_usd"]) == source_total
        and manifest["line_count"] == result.line_count
    )
    # Idempotent: a re-run replaces the same files with the same bytes.
    before = {p.name: p.read_bytes() for p in result.directory.iterdir()}
    export_billing(doubled.root, "2025-11", tmp_path)
    assert {p.name: p.read_bytes() for p in result.directory.iterdir()} == before


class _Balance(HTMLParser):
    VOID = frozenset({"meta", "br", "img", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_html_report_is_well_formed_offline_with_three_charts(doubled: Any, tmp_path: Path) -> None:
    path = write_html_report(doubled.root, tmp_path / "report.html", "2025-11")
    text = path.read_text(encoding="utf-8")
    checker = _Balance()
    checker.feed(text)
    assert checker.errors == [] and checker.stack == []
    root = ET.fromstring(text.split("\n", 1)[1])  # well-formed XML after the doctype line
    svgs = {e.get("id"): e for e in root.iter("{http://www.w3.org/2000/svg}svg")}
    assert set(svgs) == {"chart-daily-spend", "chart-top-entities", "chart-model-mix"}
    assert all("chart" in (e.get("class") or "") for e in svgs.values())
    assert len(list(svgs["chart-daily-spend"].iter("{http://www.w3.org/2000/svg}rect"))) >= 4
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bedrock-spend")
    sub = parser.add_subparsers(dest="command", required=True)
    report.register(sub)
    bill.register(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_report_and_bill_commands(doubled: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(doubled.root)
    assert (
        _cli(
            ["report", "--data", root, "--month", "2025-11", "--format", "json", "--query", "spend_by_model"]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out, parse_float=Decimal)
    rows = doc["queries"]["spend_by_model"]["rows"]
    assert sum(r["cost_usd"] for r in rows) == EXPECTED_TOTAL
    assert _cli(["report", "--data", root, "--format", "csv", "--query", "top_users"]) == 0
    assert capsys.readouterr().out.startswith("# top_users\nuser_id,")
    assert _cli(["report", "--data", root, "--month", "2025-11", "--html", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    assert "Spend by entity and day" in out and (tmp_path / "r.html").is_file()
    assert _cli(["report", "--data", root, "--query", "top_users", "--param", "limit=0"]) == 2
    assert _cli(["bill", "--data", root, "--month", "2025-11", "--out", str(tmp_path / "out")]) == 0
    assert "total $0.205168800000" in capsys.readouterr().out
