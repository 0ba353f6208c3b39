"""A function whose module cannot be imported: the init error the emulator's execution
environment reports, named as Lambda's Python runtime names it (awslambdaric's `_get_handler`)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sam_emulator.lambda_.protocol import receive_frame


def init_error(tmp_path: Path, source: str) -> dict[str, Any]:
    """Start one execution environment on `app.py` holding `source`; the error it reports."""
    (tmp_path / "app.py").write_text(source)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "sam_emulator.lambda_.worker",
                "--channel-fd",
                str(theirs.fileno()),
                "--code-root",
                str(tmp_path),
                "--handler-file",
                str(tmp_path / "app.py"),
                "--handler",
                "app.lambda_handler",
                "--module-name",
                "app_under_test",
            ],
            pass_fds=(theirs.fileno(),),
            capture_output=True,
            text=True,
            timeout=30,
        )
        frame = receive_frame(ours)
    assert process.returncode == 1
    assert frame["type"] == "init_error"
    error: dict[str, Any] = frame["error"]
    # What the runtime writes to the function's log is the same error
    assert process.stderr.startswith(f"[ERROR] {error['errorType']}: {error['errorMessage']}")
    return error


def test_a_syntax_error_is_a_user_code_syntax_error_naming_the_line(tmp_path: Path) -> None:
    # Given a module that does not parse
    source = "def lambda_handler(event, context):\n    return (\n\nx = 1\ny = (\n"
    # When an execution environment starts on it
    error = init_error(tmp_path, source)
    # Then it fails as Lambda's does: Runtime.UserCodeSyntaxError, the module and the line named
    assert error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert error["errorMessage"].startswith("Syntax error in module 'app': ")
    assert "app.py" in error["stackTrace"][0]


def test_an_exception_raised_at_import_is_reported_as_itself(tmp_path: Path) -> None:
    # Given a module whose top level raises (a missing setting, say)
    source = 'raise RuntimeError("TABLE_NAME is not set")\n'
    # When an execution environment starts on it
    error = init_error(tmp_path, source)
    # Then the error is the exception's own, with its trace, not an import error
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "TABLE_NAME is not set"
    assert any("app.py" in frame for frame in error["stackTrace"])


@pytest.mark.parametrize("missing", ["import no_such_module_here\n", "from os import nothing\n"])
def test_a_failed_import_is_an_import_module_error(tmp_path: Path, missing: str) -> None:
    # Given a module importing something that is not there
    error = init_error(tmp_path, missing + "def lambda_handler(event, context): return 1\n")
    # Then it is Lambda's Runtime.ImportModuleError, naming the module
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"].startswith("Unable to import module 'app': ")
