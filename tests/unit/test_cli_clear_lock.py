"""The redis-cli command `talkrate ops check` gives to clear a stale rebuild lock: the read
model's location, the ACL user it signs in as, never a password."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from talkrate.config import load_settings
from talkrate_cli.commands.ops import _clear_lock_command


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis://ops:opspw@127.0.0.1:6390/3", " --user ops"),
        ("redis://ops@127.0.0.1:6390/3?password=opspw", " --user ops"),
        # A name without a password: redis-py sends no AUTH, and the name may be a password
        # written where the user belongs
        ("redis://s3cret-written-as-a-user@127.0.0.1:6390/3", ""),
        ("redis://:opspw@127.0.0.1:6390/3", ""),
        ("redis://127.0.0.1:6390/3", ""),
    ],
)
def test_the_stale_lock_s_command_names_a_signed_in_user_only_and_never_a_password(
    monkeypatch: pytest.MonkeyPatch, url: str, named: str
) -> None:
    monkeypatch.setenv("RATINGS_CONNECTION", url)
    load_settings.cache_clear()  # the command's settings read anew, as a new process reads them
    try:
        command = _clear_lock_command(SimpleNamespace(cluster=False))
    finally:
        load_settings.cache_clear()
    assert command == f"redis-cli -u redis://127.0.0.1:6390/3{named} DEL projector/rebuilding"
    assert "opspw" not in command
    assert "s3cret" not in command
