"""Unit: the pieces of `make package` that need no network (the pip step is exercised by `make package`)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from infra.package import (
    copy_package,
    pip_install_command,
    remove_distributions,
    runtime_requirements,
    write_zip,
)


def test_runtime_requirements_exclude_what_lambda_provides() -> None:
    requirements = runtime_requirements()
    names = [r.split("[")[0].split(">")[0].split("=")[0].strip().lower() for r in requirements]
    assert "boto3" not in names
    assert {"aws-lambda-powertools", "msgspec", "isal", "fastavro"} <= set(names)


def test_pip_command_targets_arm64_python312_binary_wheels(tmp_path: Path) -> None:
    command = pip_install_command(["orjson>=3.10"], tmp_path)
    assert "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == "3.12"
    assert command[command.index("--implementation") + 1] == "cp"
    assert "manylinux2014_aarch64" in command
    assert command[command.index("--target") + 1] == str(tmp_path)


def test_remove_distributions_deletes_recorded_files_only(tmp_path: Path) -> None:
    # Given an installed botocore (runtime-provided) next to a kept package
    (tmp_path / "botocore").mkdir()
    (tmp_path / "botocore" / "__init__.py").write_text("")
    info = tmp_path / "botocore-1.0.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_text("botocore/__init__.py,,\nbotocore-1.0.0.dist-info/RECORD,,\n")
    (tmp_path / "orjson").mkdir()
    (tmp_path / "orjson" / "__init__.py").write_text("")

    # When removing runtime-provided distributions
    removed = remove_distributions(tmp_path, ["botocore", "boto3"])

    # Then botocore is gone and orjson stays
    assert removed == ["botocore"]
    assert not (tmp_path / "botocore").exists() and not info.exists()
    assert (tmp_path / "orjson" / "__init__.py").exists()


def test_copy_package_skips_caches_and_tests(tmp_path: Path) -> None:
    source = tmp_path / "transform"
    (source / "__pycache__").mkdir(parents=True)
    (source / "__pycache__" / "x.pyc").write_bytes(b"")
    (source / "tests").mkdir()
    (source / "tests" / "test_x.py").write_text("")
    (source / "handler.py").write_text("")
    (source / "data").mkdir()
    (source / "data" / "rules.json").write_text("{}")
    copy_package(source, tmp_path / "out" / "transform")
    copied = sorted(
        str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file()
    )
    assert copied == ["transform/data/rules.json", "transform/handler.py"]


def test_zip_is_deterministic(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "a.py").write_text("a = 1\n")
    write_zip(tmp_path / "src", tmp_path / "one.zip")
    write_zip(tmp_path / "src", tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    assert zipfile.ZipFile(tmp_path / "one.zip").namelist() == ["pkg/a.py"]
