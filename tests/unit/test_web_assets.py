"""The web app's files as served: every script and style sheet minified, and the minified script
the same program as its source (the same syntax tree, compared by the JavaScript parser Node.js
ships, acorn), so that no page behaves otherwise for having lost its comments."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from talkrate_local.web_assets import served
from tests.nodejs import run_node

pytestmark = pytest.mark.unit

WEB = Path(__file__).resolve().parents[2] / "web"
SCRIPTS = sorted(WEB.rglob("*.js"))
STYLE_SHEETS = sorted(WEB.rglob("*.css"))

# Each pair's syntax trees without positions: the name of every file whose trees differ, with
# the first place they do, or whose source nests a template literal in another (rJSmin minifies
# the inner one as code: an edit adding a space there would break the page served, not the source).
_SAME_TREES = r"""
const acorn = require("internal/deps/acorn/acorn/dist/acorn");
const pairs = JSON.parse(require("fs").readFileSync(0, "utf8"));
const nested = (node, inTemplate) => {
  if (!node || typeof node !== "object") return null;
  if (node.type === "TemplateLiteral" && inTemplate) return node.start;
  for (const value of Object.values(node)) {
    const found = nested(value, inTemplate || node.type === "TemplateLiteral");
    if (found !== null) return found;
  }
  return null;
};
const place = (k, v) => (["start", "end", "loc", "range"].includes(k) ? undefined : typeof v === "bigint" ? String(v) : v);
const tree = (code) => JSON.stringify(acorn.parse(code, { ecmaVersion: "latest", sourceType: "module" }), place, 0);
const differ = {};
for (const [name, [source, minified]] of Object.entries(pairs)) {
  let a, b;
  try { a = tree(source); b = tree(minified); } catch (e) { differ[name] = String(e); continue; }
  const at = nested(acorn.parse(source, { ecmaVersion: "latest", sourceType: "module" }), false);
  if (at !== null) differ[name] = `a template literal nested in another: ${source.slice(at - 40, at + 40)}`;
  if (a !== b) {
    let i = 0;
    while (a[i] === b[i]) i++;
    differ[name] = `source …${a.slice(i - 60, i + 40)}… served …${b.slice(i - 60, i + 40)}…`;
  }
}
console.log(JSON.stringify(differ));
"""


def test_every_script_is_served_minified_and_is_the_same_program() -> None:
    # Given every script of the app, as written and as served
    pairs = {
        str(path.relative_to(WEB)): [
            path.read_text(encoding="utf-8"),
            served(path.name, path.read_bytes()).decode("utf-8"),
        ]
        for path in SCRIPTS
    }
    assert len(pairs) > 10

    # Then each served script is smaller (its comments gone) ...
    for name, (source, minified) in pairs.items():
        assert len(minified) < len(source), name

    # ... and parses to the very syntax tree of its source: template literals (nested ones
    # too), regular expressions, optional chaining and every string kept byte for byte
    node_out = run_node(
        "--expose-internals", "-e", _SAME_TREES, input=json.dumps(pairs), timeout=120
    )
    assert json.loads(node_out) == {}


@pytest.mark.parametrize("path", STYLE_SHEETS, ids=lambda p: p.name)
def test_style_sheets_are_served_minified_with_every_rule(path: Path) -> None:
    # Given a style sheet as written
    source = path.read_text(encoding="utf-8")

    # When it is served
    minified = served(path.name, path.read_bytes()).decode("utf-8")

    # Then its comments and spaces are gone, and no rule or property is
    assert len(minified) < len(source) * 0.7
    assert "/*" not in minified
    assert minified.count("{") == source.count("{") - _in_comments(source, "{")
    for custom_property in {word for word in source.split() if word.startswith("--")}:
        assert custom_property.rstrip(":;,)") in minified


def _in_comments(css: str, text: str) -> int:
    count, start = 0, css.find("/*")
    while start != -1:
        end = css.find("*/", start)
        count += css[start:end].count(text)
        start = css.find("/*", end)
    return count


def test_other_files_are_served_as_written() -> None:
    # Given the entry page and the icon
    for path in (WEB / "index.html", WEB / "icon.svg"):
        # Then they are served unchanged
        assert served(path.name, path.read_bytes()) == path.read_bytes()


def _static_imports(module: Path) -> set[Path]:
    """The modules `module` imports statically, and theirs (a dynamic import() is left out)."""
    found: set[Path] = set()
    waiting = [module]
    while waiting:
        source = waiting.pop().resolve()
        text = source.read_text(encoding="utf-8")
        for name in re.findall(
            r"""^\s*import\s[^;]*?\sfrom\s+["'](\.[^"']+)["']""", text, re.M | re.S
        ):
            imported = (source.parent / name).resolve()
            if imported not in found:
                found.add(imported)
                waiting.append(imported)
    return found


def test_the_entry_page_preloads_every_module_its_script_imports_and_no_other() -> None:
    # Given the entry page and its script's imports, all levels of them
    page = (WEB / "index.html").read_text(encoding="utf-8")
    preloaded = {
        (WEB / href.removeprefix("/app/")).resolve()
        for href in re.findall(r'<link rel="modulepreload" href="([^"]+)">', page)
    }
    imported = _static_imports(WEB / "js" / "main.js")
    # Then the page asks for each at once (not a round trip for each level of imports), and for
    # none that is imported only when opened (the organisers' page)
    assert {str(p.relative_to(WEB)) for p in imported - preloaded} == set()
    assert {str(p.relative_to(WEB)) for p in preloaded - imported} == set()
    assert all(p.is_file() for p in preloaded)
