#!/usr/bin/env bash
# Install the pinned AWS SAM CLI into its own virtualenv (.tools/sam, gitignored) and print the
# path of its `sam` binary on stdout (progress goes to stderr). Idempotent: does nothing when that
# version is already there. Kept out of .venv on purpose: aws-sam-cli pins its own boto3, flask
# and friends, which would fight with the project's dependencies.
#
#   SAM="$(bash .ci/install-sam.sh)" && SAM_CLI_TELEMETRY=0 "$SAM" validate --lint
#
# Environment: SAM_CLI_VERSION (default below), SAM_TOOLS_DIR (default <repo>/.tools/sam),
# SAM_PYTHON (the interpreter that creates the venv; default: python3.13, else python3.12/3.11,
# else python3).
set -euo pipefail

SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SAM_TOOLS_DIR:-$ROOT/.tools/sam}"
SAM_BIN="$VENV/bin/sam"

installed_version() {
    # Asks pip's metadata rather than running `sam --version`: faster, and no telemetry prompt.
    "$VENV/bin/python" - <<'PY' 2>/dev/null
from importlib.metadata import version
print(version("aws-sam-cli"))
PY
}

if [[ -x "$SAM_BIN" && "$(installed_version || true)" == "$SAM_CLI_VERSION" ]]; then
    echo "$SAM_BIN"
    exit 0
fi

pick_python() {
    if [[ -n "${SAM_PYTHON:-}" ]]; then
        echo "$SAM_PYTHON"
        return
    fi
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
            command -v "$candidate"
            return
        fi
    done
    echo "install-sam: no Python 3.9+ interpreter found" >&2
    exit 1
}

PYTHON="$(pick_python)"
echo "install-sam: installing aws-sam-cli==$SAM_CLI_VERSION into $VENV (with $PYTHON)" >&2
# A half-built or older venv is replaced, not patched.
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
pip_install() {
    # stdout stays clean for the one line this script prints; pip's chatter goes to stderr, less
    # the warnings about configured package locations that do not exist on this machine.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' || true; } >&2
}
pip_install --upgrade pip
pip_install "aws-sam-cli==$SAM_CLI_VERSION"

if [[ "$(installed_version || true)" != "$SAM_CLI_VERSION" || ! -x "$SAM_BIN" ]]; then
    echo "install-sam: aws-sam-cli $SAM_CLI_VERSION did not install into $VENV" >&2
    exit 1
fi
echo "$SAM_BIN"
