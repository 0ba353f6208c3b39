#!/usr/bin/env bash
# Install the pinned checkov into its own virtualenv (.tools/checkov, gitignored) and print the path
# of its binary on stdout (progress goes to stderr). Idempotent. Kept out of .venv: checkov pins
# boto3, jsonschema and friends of its own, which would fight with the project's dependencies.
#
# Environment: CHECKOV_VERSION (default below), CHECKOV_TOOLS_DIR (default <repo>/.tools/checkov),
# CHECKOV_PYTHON (the interpreter that creates the venv; default python3).
set -euo pipefail

CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CHECKOV_TOOLS_DIR:-$ROOT/.tools/checkov}"
BIN="$VENV/bin/checkov"

installed_version() {
    "$VENV/bin/python" -c 'from importlib.metadata import version; print(version("checkov"))' 2>/dev/null
}

if [[ -x "$BIN" && "$(installed_version || true)" == "$CHECKOV_VERSION" ]]; then
    echo "$BIN"
    exit 0
fi

echo "install-checkov: installing checkov==$CHECKOV_VERSION into $VENV" >&2
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"${CHECKOV_PYTHON:-python3}" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" 2>&1 \
    | { grep -v 'is ignored: it is neither a file nor a directory' || true; } >&2

if [[ "$(installed_version || true)" != "$CHECKOV_VERSION" || ! -x "$BIN" ]]; then
    echo "install-checkov: checkov $CHECKOV_VERSION did not install into $VENV" >&2
    exit 1
fi
echo "$BIN"
