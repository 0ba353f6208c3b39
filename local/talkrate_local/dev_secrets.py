"""The dev stack's secrets and voting defaults: what Secrets Manager and the template's
parameters give the functions on AWS, made once into the data folder (`.local/`) and kept.

- the organiser (admin) token, when ADMIN_TOKEN is not set: printed by `make run` so a newcomer
  can use the organisers' routes straight away; one of fewer than 32 characters (ADMIN_TOKEN's
  or the kept file's, edited by hand) stops the start, as the functions' cold start would;
- the key voter tokens are signed with, when VOTER_TOKEN_KEY is not set (kept, so tokens handed
  out survive a restart);
- the event code POST /voters asks for, from the template's VoterCode parameter (`--param
  VoterCode=…`): on AWS its secret holds it, and locally the secret's ARN is dropped;
- VotingPolicy `open` unless VOTING_POLICY or `--param VotingPolicy=…` says otherwise, so the
  README's curl works without a voter token (the template's default, for AWS, is `attendee`);
- EventTimeZone from EVENT_TIME_ZONE when set (as `--param EventTimeZone=…`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from talkrate.config import ADMIN_TOKEN_LEAST_CHARACTERS, SettingsError, usable_admin_token
from talkrate_local.embedded import ServiceError

ORGANISER_TOKEN_FILE = "organiser-token"  # noqa: S105 (a file name, not a token)  # nosec B105
VOTER_KEY_FILE = "voter-token.key"


@dataclass(frozen=True)
class DevSecrets:
    """What the functions get, and the organiser token to print (None: the caller set theirs)."""

    organiser_token: str | None
    environment: dict[str, str] = field(default_factory=dict)


def dev_secrets(data_dir: Path, environ: Mapping[str, str], voter_code: str = "") -> DevSecrets:
    """The organiser token and voter-token key from `data_dir`, made there on first use, and
    the event code `voter_code` (the template's VoterCode) when there is one."""
    environment: dict[str, str] = {}
    if voter_code:
        environment["VOTER_CODE"] = voter_code
    organiser_token = None
    if mine := environ.get("ADMIN_TOKEN"):
        _usable(mine, "ADMIN_TOKEN", "set one of at least that many, or unset it to have one made")
    else:
        path = data_dir / ORGANISER_TOKEN_FILE
        organiser_token = _kept(path)
        _usable(organiser_token, str(path), "remove the file to have a new one made")
        environment["ADMIN_TOKEN"] = organiser_token
    if not environ.get("VOTER_TOKEN_KEY"):
        environment["VOTER_TOKEN_KEY"] = _kept(data_dir / VOTER_KEY_FILE)
    return DevSecrets(organiser_token, environment)


def _usable(token: str, where: str, fix: str) -> None:
    """Stop the start, as the functions would at their cold start, on an organiser token
    shorter than the floor (naming where it is, never the token)."""
    try:
        usable_admin_token(token, where)
    except SettingsError:
        raise ServiceError(
            f"{where} holds an organiser token shorter than {ADMIN_TOKEN_LEAST_CHARACTERS} "
            f"characters: {fix}"
        ) from None


def parameter_defaults(environ: Mapping[str, str]) -> dict[str, str]:
    """Template parameters whose local default differs from the deployed one."""
    defaults = {"VotingPolicy": environ.get("VOTING_POLICY") or "open"}
    if environ.get("EVENT_TIME_ZONE"):
        defaults["EventTimeZone"] = environ["EVENT_TIME_ZONE"]
    return defaults


def _kept(path: Path) -> str:
    """The secret in `path`, or a new one written there (readable by its owner only). Two
    runtimes starting at once in one folder end up with the same secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            value = path.read_text().strip()
        except FileNotFoundError:
            value = ""
        if value:
            return value
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue  # another runtime is writing it: read theirs
        value = secrets.token_urlsafe(32)
        with os.fdopen(descriptor, "w") as file:
            file.write(value + "\n")
        return value
    raise OSError(f"{path} exists but is empty: remove it to have a new secret made")
