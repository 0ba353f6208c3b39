"""Where the local runtime keeps the secrets it generates, for the tools that read them.

The runtime writes the organiser token into its data folder; `talkrate admin` on this machine
reads it from there. Both sides name the file through this module only. Kept free of imports
beyond the standard library so the command line can use it without loading the runtime.
"""

from __future__ import annotations

import os
from pathlib import Path

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 (a file name, not a token)


def default_data_dir() -> Path:
    """The runtime's data folder: TALKRATE_LOCAL_DATA, else `.local/` beside template.yaml."""
    if configured := os.environ.get("TALKRATE_LOCAL_DATA"):
        return Path(configured)
    return Path(__file__).resolve().parents[2] / ".local"


def admin_token_file(data_dir: Path | None = None) -> Path:
    """The file holding the local organiser token."""
    return (data_dir or default_data_dir()) / ADMIN_TOKEN_FILE


def read_admin_token(data_dir: Path | None = None) -> str | None:
    """The local organiser token, or None when the runtime has not written one."""
    try:
        token = admin_token_file(data_dir).read_text().strip()
    except OSError:
        return None
    return token or None
