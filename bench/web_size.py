"""The web app's weight: every JavaScript and CSS file under web/ as it is served (minified, the
bytes the local runtime and the bucket serve), raw and gzipped (level 9, as a CDN compresses),
against the budget of 100 KB gzipped in total; the source files' sizes beside them.

    python -m bench.web_size        (also a part of `make bench`: --parts web)
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

from talkrate_local.web_assets import served

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
BUDGET_KB = 100.0
SUFFIXES = (".js", ".mjs", ".css")


def _gzipped(content: bytes) -> int:
    return len(gzip.compress(content, compresslevel=9, mtime=0))


def measure(folder: Path = WEB) -> dict[str, Any]:
    """Sizes of the app's scripts and style sheets as served (`raw`, `gzip`) and as written
    (`source_raw`, `source_gzip`), per file and in total (bytes)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix in SUFFIXES and path.is_file():
            name = str(path.relative_to(folder))
            source = path.read_bytes()
            content = served(name, source)
            files[name] = {
                "raw": len(content),
                "gzip": _gzipped(content),
                "source_raw": len(source),
                "source_gzip": _gzipped(source),
            }
    totals = {key: sum(f[key] for f in files.values()) for key in next(iter(files.values()), {})}
    return {"files": files, **totals, "budget_kb": BUDGET_KB}


def main() -> int:
    """Print each file and the total against the budget; the numbers as JSON with --json."""
    sizes = measure()
    if "--json" in sys.argv:
        print(json.dumps(sizes))
        return 0
    for name, size in sizes["files"].items():
        print(
            f"  {name:<24} {size['raw'] / 1024:5.1f} KB {size['gzip'] / 1024:5.1f} KB gzipped"
            f"  (source {size['source_raw'] / 1024:5.1f} KB {size['source_gzip'] / 1024:5.1f} KB)"
        )
    total = sizes["gzip"] / 1024
    print(
        f"web app JS+CSS as served (minified): {sizes['raw'] / 1024:.1f} KB, {total:.1f} KB "
        f"gzipped; budget {BUDGET_KB:.0f} KB gzipped: ratio {total / BUDGET_KB:.2f} "
        f"({'met' if total <= BUDGET_KB else 'OVER'}); the source files: "
        f"{sizes['source_raw'] / 1024:.1f} KB, {sizes['source_gzip'] / 1024:.1f} KB gzipped"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
