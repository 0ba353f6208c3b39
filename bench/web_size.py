"""The web app's weight: every JavaScript and CSS file under web/, raw and gzipped (level 9, as
a CDN compresses), against the budget of 100 KB gzipped in total.

    python -m bench.web_size        (also a part of `make bench`: --parts web)
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
BUDGET_KB = 100.0
SUFFIXES = (".js", ".mjs", ".css")


def measure(folder: Path = WEB) -> dict[str, Any]:
    """Sizes of the app's scripts and style sheets, per file and in total (bytes)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix in SUFFIXES and path.is_file():
            content = path.read_bytes()
            files[str(path.relative_to(folder))] = {
                "raw": len(content),
                "gzip": len(gzip.compress(content, compresslevel=9, mtime=0)),
            }
    return {
        "files": files,
        "raw": sum(f["raw"] for f in files.values()),
        "gzip": sum(f["gzip"] for f in files.values()),
        "budget_kb": BUDGET_KB,
    }


def main() -> int:
    """Print each file and the total against the budget; the numbers as JSON with --json."""
    sizes = measure()
    if "--json" in sys.argv:
        print(json.dumps(sizes))
        return 0
    for name, size in sizes["files"].items():
        print(f"  {name:<28} {size['raw'] / 1024:7.1f} KB  {size['gzip'] / 1024:6.1f} KB gzipped")
    total = sizes["gzip"] / 1024
    print(
        f"web app JS+CSS: {sizes['raw'] / 1024:.1f} KB, {total:.1f} KB gzipped; "
        f"budget {BUDGET_KB:.0f} KB gzipped: ratio {total / BUDGET_KB:.2f} "
        f"({'met' if total <= BUDGET_KB else 'OVER'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
