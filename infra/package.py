"""Build build/lambda/ (the functions' CodeUri) for arm64 python3.12 Lambda, without Docker.

``python -m infra.package`` (``make package``):

1. ``pip install --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64
   --only-binary=:all: --python-version 3.12 --implementation cp --target build/lambda`` the
   runtime dependencies listed in pyproject.toml ``[project] dependencies``, except what the Lambda
   Python runtime already provides (boto3 and its own dependencies). This is the documented way of
   building a .zip with native wheels for another platform
   (https://docs.aws.amazon.com/lambda/latest/dg/python-package.html, "Working with .zip file
   archives and native libraries"; python3.12 runs on Amazon Linux 2023, glibc 2.34, so
   manylinux_2_28 wheels are fine).
2. Removes the runtime-provided distributions that came in as transitive dependencies
   (aws-xray-sdk pulls botocore), file by file from their RECORD.
3. Copies the ``transform`` package only (no tests, no caches).
4. Writes build/lambda.zip and prints the unzipped and zipped sizes (Lambda limits: 50 MB zipped
   for direct upload, 250 MB unzipped: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).

Powertools is packaged here rather than taken from the public layer: see infra/template.yaml.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
PYTHON_VERSION = "3.12"
# Provided by the Lambda Python runtime (boto3 and its dependency closure).
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """pyproject's runtime dependencies, minus those the Lambda runtime provides."""
    with open(pyproject, "rb") as handle:
        dependencies: list[str] = tomllib.load(handle)["project"]["dependencies"]
    kept = []
    for requirement in dependencies:
        match = _NAME.match(requirement)
        if match and normalize(match.group(1)) not in RUNTIME_PROVIDED:
            kept.append(requirement)
    return kept


def remove_distributions(target: Path, names: Iterable[str]) -> list[str]:
    """Delete installed distributions (files listed in their RECORD, then the dist-info)."""
    wanted = {normalize(name) for name in names}
    removed = []
    for dist_info in sorted(target.glob("*.dist-info")):
        name = normalize(dist_info.name[: -len(".dist-info")].rsplit("-", 1)[0])
        if name not in wanted:
            continue
        record = dist_info / "RECORD"
        if record.exists():
            for line in record.read_text(encoding="utf-8").splitlines():
                relative = line.split(",", 1)[0]
                path = (target / relative).resolve()
                if path.is_file() and target.resolve() in path.parents:
                    path.unlink()
        shutil.rmtree(dist_info, ignore_errors=True)
        removed.append(name)
    _prune_empty_dirs(target)
    return removed


def _prune_empty_dirs(target: Path) -> None:
    for directory in sorted((p for p in target.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(directory.iterdir()):
            directory.rmdir()


def copy_package(source: Path, destination: Path) -> None:
    """Copy a Python package without caches or tests."""
    shutil.copytree(
        source,
        destination,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "test_*.py", "*_test.py"),
    )


def pip_install_command(requirements: Sequence[str], target: Path) -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    command += [
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--target",
        str(target),
        *requirements,
    ]
    return command


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_zip(source: Path, archive: Path) -> None:
    """Deterministic zip: sorted entries, fixed timestamps."""
    archive.unlink(missing_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())


def build(target: Path, archive: Path | None, package: Path = ROOT / "transform") -> tuple[int, int]:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    requirements = runtime_requirements()
    subprocess.run(pip_install_command(requirements, target), check=True)
    removed = remove_distributions(target, RUNTIME_PROVIDED)
    shutil.rmtree(target / "bin", ignore_errors=True)
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    copy_package(package, target / package.name)
    unzipped = directory_size(target)
    zipped = 0
    if archive is not None:
        write_zip(target, archive)
        zipped = archive.stat().st_size
    print(f"requirements: {', '.join(requirements)}")
    print(f"removed (provided by the Lambda runtime): {', '.join(removed) or 'none'}")
    print(
        f"{target}: {unzipped / 1e6:.1f} MB unzipped"
        + (f", {archive}: {zipped / 1e6:.1f} MB zipped" if archive else "")
    )
    return unzipped, zipped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", type=Path, default=ROOT / "build" / "lambda")
    parser.add_argument("--zip", type=Path, default=ROOT / "build" / "lambda.zip")
    parser.add_argument("--no-zip", action="store_true")
    args = parser.parse_args(argv)
    build(args.target, None if args.no_zip else args.zip)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
