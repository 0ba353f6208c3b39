"""Finish `sam build` for Lambda: no boto3 in the artifacts, bytecode compiled ahead, sizes reported.

    python scripts/lean_build.py --python /path/to/python3.13 [--build-dir .aws-sam/build]

- boto3, botocore and s3transfer are removed wherever a dependency pulled them in: the python3.13
  runtime provides them, and a second copy only adds megabytes and import-path confusion;
- every artifact is compiled with the runtime's Python (a .pyc is tied to its minor version) with
  unchecked hashes: Lambda's file system is read-only, so without this every cold start compiles
  every module it imports, and with timestamp checks a copied mtime could send it back to source;
- file names inside the bytecode are those Lambda loads them from (/opt for layers, /var/task for
  functions), so tracebacks point where the code runs;
- the size of each artifact is printed, unzipped and zipped as `sam deploy` uploads it.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

# Provided by the Lambda Python runtime; never shipped.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
LAYER_LIMIT_BYTES = 250 * 1024 * 1024  # function and layers together, unzipped


def artifacts(build_dir: Path) -> dict[str, tuple[Path, str]]:
    """Each artifact of the build: its folder and the path Lambda mounts it at."""
    found: dict[str, tuple[Path, str]] = {}
    for folder in sorted(path for path in build_dir.iterdir() if path.is_dir()):
        if (folder / "python").is_dir():  # a layer: its python/ lands in /opt/python
            found[folder.name] = (folder, "/opt")
        else:
            found[folder.name] = (folder, "/var/task")
    return found


def remove_runtime_provided(folder: Path) -> list[str]:
    """Delete boto3/botocore/s3transfer (packages and their metadata); returns what went."""
    removed: list[str] = []
    roots = [folder / "python", folder] if (folder / "python").is_dir() else [folder]
    for root in roots:
        for name in RUNTIME_PROVIDED:
            for path in [root / name, *root.glob(f"{name}-*.dist-info")]:
                if path.exists():
                    shutil.rmtree(path)
                    removed.append(str(path.relative_to(folder)))
    return removed


def drop_bytecode(folder: Path) -> None:
    """Remove bytecode caches (another interpreter's, or an earlier run's)."""
    for cache in list(folder.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)


def compile_bytecode(python: str, folder: Path, mount: str) -> None:
    """Compile every module under the folder with the runtime's Python, for a read-only disk."""
    subprocess.run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(folder),
            "-p",
            mount,
            str(folder),
        ],
        check=True,
    )


def sizes(folder: Path) -> tuple[int, int]:
    """Bytes unzipped and zipped (deflate, as `sam package` zips an artifact)."""
    unzipped = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                unzipped += path.stat().st_size
                archive.write(path, path.relative_to(folder))
    return unzipped, len(buffer.getvalue())


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:7.1f} KB"
    return f"{size / 1024 / 1024:7.1f} MB"


def main() -> int:
    """Slim, compile and report every artifact of the build folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the Lambda runtime's Python (3.13)")
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    args = parser.parse_args()
    version = subprocess.run(
        [args.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if version != "3.13":
        print(
            f"lean-build: {args.python} is Python {version}, the runtime is 3.13", file=sys.stderr
        )
        return 1
    if not args.build_dir.is_dir():
        print(f"lean-build: no {args.build_dir}; run sam build first", file=sys.stderr)
        return 1
    print(f"lean build of {args.build_dir} (bytecode by Python {version}, unchecked hashes)")
    print(f"  {'artifact':<22} {'source':>10} {'+bytecode':>10} {'zipped':>10}")
    removed_any = False
    for name, (folder, mount) in artifacts(args.build_dir).items():
        removed = remove_runtime_provided(folder)
        removed_any = removed_any or bool(removed)
        drop_bytecode(folder)
        source = sizes(folder)[0]
        compile_bytecode(args.python, folder, mount)
        unzipped, zipped = sizes(folder)
        note = f"  (removed {', '.join(removed)})" if removed else ""
        print(f"  {name:<22} {_size(source)} {_size(unzipped)} {_size(zipped)}{note}")
        if unzipped > LAYER_LIMIT_BYTES:
            print(f"lean-build: {name} is over Lambda's 250 MB unzipped limit", file=sys.stderr)
            return 1
    if not removed_any:
        print(f"  none ships {', '.join(RUNTIME_PROVIDED)}: the runtime provides them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
