"""Where the API is, the organiser token, and the voter tokens kept between runs."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from talkrate_cli.errors import BadInput, CliError

LOCAL_API = "http://127.0.0.1:3000"
# Outputs that name the API's base URL, most specific first.
API_OUTPUT_KEYS = ("ApiUrl",)


def api_from_stack(stack: str, region: str | None = None) -> str:
    """The API URL from a CloudFormation stack's outputs (credentials from the usual chain)."""
    return api_of(stack, stack_outputs(stack, region))


def api_of(stack: str, outputs: dict[str, str]) -> str:
    """The API URL among a stack's outputs."""
    for key in API_OUTPUT_KEYS:
        if outputs.get(key):
            return str(outputs[key])
    raise CliError(f"stack {stack} has no {' or '.join(API_OUTPUT_KEYS)} output")


def config_of(outputs: dict[str, str]) -> str | None:
    """Where a stack's pages read /app/config.json (its AppUrl: CloudFront, not the API's
    execute-api URL, which does not serve the app), or None without that output."""
    app = outputs.get("AppUrl")
    return f"{app.rstrip('/')}/config.json" if app else None


def stack_outputs(stack: str, region: str | None = None) -> dict[str, str]:
    """A stack's outputs by key."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    try:
        cloudformation = boto3.client("cloudformation", region_name=region)
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message") or str(error)
        raise CliError(f"stack {stack}: {message}") from None
    except NoRegionError:
        raise CliError(
            f"stack {stack}: no AWS region to look for it in: give --region, or set AWS_REGION "
            "(or a region in the AWS profile)"
        ) from None
    except BotoCoreError as error:
        raise CliError(f"stack {stack}: {error}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in described[0].get("Outputs", [])}


# The output naming the secret a stack generated its organiser token into.
ORGANISER_OUTPUT = "AdminTokenSecretArn"


def admin_token_of_stack(stack: str, outputs: dict[str, str], region: str | None = None) -> str:
    """The organiser token a stack generated (the secret its AdminTokenSecretArn output names),
    read with the caller's AWS credentials, without the line end it may have been put with;
    CliError saying why it cannot be read (never a part of the token)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from talkrate.config import secret_text

    arn = outputs.get(ORGANISER_OUTPUT)
    if not arn:
        raise CliError(
            f"no organiser token: stack {stack} has no {ORGANISER_OUTPUT} output (deployed "
            "before it had one): set TALKRATE_ADMIN_TOKEN (docs/operations.md, \"The organisers' "
            'admin token")'
        )
    try:
        secrets = boto3.client("secretsmanager", region_name=region)  # the stack's
        answer = secrets.get_secret_value(SecretId=arn)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message") or str(error)
        raise CliError(
            f"stack {stack}: its organiser token ({ORGANISER_OUTPUT}) could not be read: "
            f"{message}. Set TALKRATE_ADMIN_TOKEN, or use AWS credentials that may read that "
            "secret (secretsmanager:GetSecretValue)"
        ) from None
    except BotoCoreError as error:
        raise CliError(
            f"stack {stack}: its organiser token ({ORGANISER_OUTPUT}) could not be read: "
            f"{error}. Set TALKRATE_ADMIN_TOKEN instead"
        ) from None
    # Read as the authorizer reads it (talkrate.config.read_secret_text): its SecretString, else
    # its SecretBinary as UTF-8 text.
    value = answer["SecretString"] if "SecretString" in answer else answer.get("SecretBinary")
    try:
        token = secret_text(value or "").strip()
    except UnicodeDecodeError:
        raise CliError(
            f"stack {stack}: its organiser token secret ({ORGANISER_OUTPUT}) holds bytes that "
            "are not text, which the authorizer cannot read either: put a token into it "
            '(docs/operations.md, "Rotating the admin token")'
        ) from None
    if not token:
        raise CliError(
            f"stack {stack}: its organiser token secret ({ORGANISER_OUTPUT}) is empty: put "
            'a token into it (docs/operations.md, "Rotating the admin token")'
        )
    return token


def is_loopback(url: str) -> bool:
    """Whether the API is on this machine (then the local runtime's token applies, and
    `simulate` needs no --yes): its host as the HTTP client reads it, after any user name."""
    import httpx

    try:
        host = httpx.URL(url.strip()).host
    except (httpx.InvalidURL, TypeError):
        return False
    return host in ("127.0.0.1", "localhost", "::1")


def local_data_dir() -> Path:
    """The local runtime's data folder: TALKRATE_LOCAL_DATA, else `.local/` in this checkout."""
    if configured := os.environ.get("TALKRATE_LOCAL_DATA"):
        return Path(configured)
    import talkrate_local

    return Path(talkrate_local.__file__).resolve().parents[2] / ".local"


def admin_token(api_url: str) -> str | None:
    """TALKRATE_ADMIN_TOKEN, else (for the local runtime) the organiser token it made in its
    data folder; without the spaces and line ends around it (a token pasted with a space, or
    read from a file of CRLF lines), which the API does not take as the token's either."""
    if token := os.environ.get("TALKRATE_ADMIN_TOKEN", "").strip():
        return token
    if not is_loopback(api_url):
        return None
    from talkrate_local.dev_secrets import ORGANISER_TOKEN_FILE

    try:
        return (local_data_dir() / ORGANISER_TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


# Longer than any organiser token (a generated one has 43 or 48 characters), and well within
# what a header may carry (API Gateway takes 10 kB of headers, the local runtime 64 kB a line).
MAX_ADMIN_TOKEN_LENGTH = 4096


def sendable_token(token: str, where: str) -> str:
    """The token, or CliError when it is too long to be one (a file's content exported by
    mistake: the API's server refused the header, "Line too long") or holds what an HTTP header
    cannot carry (a letter outside ASCII, a control character): said by its length or its
    position, never printed (it is a secret)."""
    if len(token) > MAX_ADMIN_TOKEN_LENGTH:
        raise CliError(
            f"{where} is too long to be an organiser token ({len(token)} characters; one has at "
            f"most {MAX_ADMIN_TOKEN_LENGTH}): copy the organiser token again"
        )
    bad = next((at for at, char in enumerate(token) if not (" " <= char <= "~")), None)
    if bad is None:
        return token
    raise CliError(
        f"{where} holds a character a bearer token cannot have (its character {bad + 1} of "
        f"{len(token)}, not printable ASCII): copy the organiser token again"
    )


def config_dir() -> Path:
    """The user's config folder for talkrate (TALKRATE_CONFIG_DIR overrides it)."""
    if configured := os.environ.get("TALKRATE_CONFIG_DIR"):
        return Path(configured)
    from platformdirs import user_config_path

    return user_config_path("talkrate", appauthor=False)


# The first pause before a write whose answer was lost, or said "later" (a rating, a voter pass,
# an added talk), is sent again with its Idempotency-Key; the next are twice and four times it.
RETRY_SETTING = "TALKRATE_RETRY_SECONDS"
# Its bounds: above 0 (sent again at once, a busy API is only asked again as it answers), and
# at most a minute (the three tries then take 7 minutes, past any attendee's patience).
LONGEST_FIRST_RETRY_SECONDS = 60.0


def retry_pauses() -> tuple[float, float, float] | None:
    """The pauses TALKRATE_RETRY_SECONDS asks for (its seconds, then twice and four times
    them), or None when it is unset or blank (the command's own: 1, 2 and 4 s). BadInput (exit
    2) naming it for a value that is not a number of seconds above 0, at most 60."""
    from talkrate_cli.client import retry_schedule

    text = os.environ.get(RETRY_SETTING, "").strip()
    if not text:
        return None
    try:
        first = float(text)
    except ValueError:
        first = math.nan
    if not 0 < first <= LONGEST_FIRST_RETRY_SECONDS:  # (nan too)
        raise BadInput(
            f"bad {RETRY_SETTING} {text!r}: expected seconds above 0, at most "
            f"{LONGEST_FIRST_RETRY_SECONDS:g} (the first pause before a write whose answer was "
            "lost is sent again; 1 unless set)"
        )
    return retry_schedule(first)


DEFAULT_PORTS = {"http": 80, "https": 443}


def api_key(api_url: str) -> str:
    """One spelling of an API URL, to keep things per API: scheme and host in lower case, the
    scheme's default port and a trailing slash dropped, the path (a stage, say) kept as it is."""
    try:
        parts = urlsplit(api_url.strip())
        port = parts.port
    except ValueError:
        return api_url
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if not scheme or not host:
        return api_url
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


class VoterTokens:
    """The voter token of each API this user rated on, in `voters.json` (mode 0600).

    Kept under the API's URL in one spelling (api_key), so `HTTP://host/` and `http://host` share
    one token, as one attendee; a token kept under another spelling (before there was one) is
    still read, and moved to the one spelling when the next is kept."""

    def __init__(self, folder: Path | None = None) -> None:
        self.path = (folder or config_dir()) / "voters.json"

    def _all(self) -> dict[str, Any]:
        try:
            text = self.path.read_bytes()
        except OSError:  # none yet, or not readable now (its rights): nothing kept, as before
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
        self._set_aside(text)
        return {}

    def _set_aside(self, unreadable: bytes) -> None:
        """A file that is not the tokens' (cut short, edited, not JSON): kept beside under a
        name of its own, and said, rather than written over without a word. The next rating gets
        a new token and counts beside this user's earlier ones as another attendee's. Only the
        bytes that failed are moved: a file another run wrote since is left alone."""
        aside = self.path.with_name(f"voters.unreadable-{time.time_ns()}-{os.getpid()}.json")
        try:
            if self.path.read_bytes() != unreadable:
                return
            os.replace(self.path, aside)
        except OSError:
            return
        sys.stderr.write(
            f"talkrate: {self.path} could not be read: kept as {aside.name}; a new voter token "
            "is asked for, so a rating changed now counts beside your earlier one\n"
        )

    def _save(self, data: dict[str, Any]) -> None:
        """Write the file whole, private from its first byte: a temporary file of this run's own
        (mkstemp makes it 0600 whatever the umask, and another run writing at the same time has
        its own), then moved over the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".voters-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w") as file:
                file.write(json.dumps(data, indent=2))
            os.replace(name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise

    @staticmethod
    def _spellings(data: dict[str, Any], api_url: str) -> list[str]:
        """The keys kept for this API: its one spelling first, then older spellings of it."""
        key = api_key(api_url)
        older = [k for k in data if k != key and api_key(k) == key]
        return [key, *older] if key in data else older

    @staticmethod
    def _valid(entry: Any) -> str | None:
        if not isinstance(entry, dict) or not entry.get("voterToken"):
            return None
        expires = _moment(entry.get("expiresAt"))
        if expires is not None and expires <= datetime.now(UTC):
            return None
        return str(entry["voterToken"])

    def _entry(self, api_url: str) -> Any:
        data = self._all()
        spellings = self._spellings(data, api_url)
        return data[spellings[0]] if spellings else None

    def renew_due(self, api_url: str) -> bool:
        """Whether the kept token, still valid, is past the renewAfter the API gave with it (one
        kept without it, before the API renewed passes: at once)."""
        entry = self._entry(api_url)
        if self._valid(entry) is None:
            return False
        after = _moment(entry.get("renewAfter"))
        return after is None or after <= datetime.now(UTC)

    def expired(self, api_url: str) -> bool:
        """Whether a token is kept for this API that has expired (not renewed in time)."""
        entry = self._entry(api_url)
        return isinstance(entry, dict) and bool(entry.get("voterToken")) and not self._valid(entry)

    def get(self, api_url: str) -> str | None:
        """The kept token for this API, however its URL is spelt, unless it has expired."""
        data = self._all()
        for key in self._spellings(data, api_url):
            if token := self._valid(data[key]):
                return token
        return None

    def put(self, api_url: str, voter: dict[str, Any]) -> None:
        """Keep a token (as POST /voters answered it) for this API, in place of any other."""
        data = self._all()
        for key in self._spellings(data, api_url):
            del data[key]
        data[api_key(api_url)] = {
            "voterToken": voter["voterToken"],
            "expiresAt": voter.get("expiresAt"),
            "renewAfter": voter.get("renewAfter"),
        }
        try:
            self._save(data)
        except OSError as error:
            # The rating goes on with the token; only the next one cannot reuse it (a changed
            # mind would then count as another attendee's rating).
            sys.stderr.write(
                f"talkrate: could not keep the voter token in {self.path} ({error.strerror}); "
                "set TALKRATE_CONFIG_DIR to a folder you can write\n"
            )

    def forget(self, api_url: str) -> None:
        """Drop the tokens of this API, under every spelling (the API refused one)."""
        data = self._all()
        spellings = self._spellings(data, api_url)
        for key in spellings:
            del data[key]
        if spellings:
            self._save(data)


def _moment(text: Any) -> datetime | None:
    """An RFC 3339 time as the API writes it, or None."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
