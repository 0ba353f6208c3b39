"""AWS Signature Version 4 for the one AWS call the API makes per read (invoking StatsFunction).

Through boto3 that call cost ~1.4 ms more CPU on a full core than a signed request on a kept-alive
connection (botocore's per-call pipeline), on every GET /ratings, plus a Lambda client at the
first one; signing is a few hashes. (boto3 stays for Secrets Manager, read once per environment.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class Credentials:
    """An access key, its secret and, for temporary credentials, the session token."""

    access_key: str
    secret_key: str
    session_token: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Credentials | None:
        """The function's credentials, as Lambda puts them in its environment; None without."""
        access_key, secret_key = (
            environ.get("AWS_ACCESS_KEY_ID"),
            environ.get("AWS_SECRET_ACCESS_KEY"),
        )
        if not access_key or not secret_key:
            return None
        return cls(access_key, secret_key, environ.get("AWS_SESSION_TOKEN") or None)


# Container credentials are renewed this long before they expire.
REFRESH_MARGIN_SECONDS = 300.0
CONTAINER_TIMEOUT_SECONDS = 1.0


class CredentialSource:
    """The function's credentials, wherever Lambda puts them.

    Usually in the environment. A function restored by SnapStart gets none there: it reads them
    from the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI, authorised by
    AWS_CONTAINER_AUTHORIZATION_TOKEN); those are kept until shortly before they expire.
    """

    def __init__(
        self, environ: Mapping[str, str] = os.environ, clock: Callable[[], float] = time.time
    ) -> None:
        self._environ = environ
        self._clock = clock
        self._cached: Credentials | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> Credentials | None:
        """Current credentials, or None when this environment has none (local runs)."""
        from_environment = Credentials.from_environment(self._environ)
        if from_environment is not None:
            return from_environment
        uri = self._environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        if not uri:
            return None
        with self._lock:
            if self._cached is None or self._clock() >= self._renew_at:
                self._cached, expires = self._fetch(uri)
                self._renew_at = expires - REFRESH_MARGIN_SECONDS
            return self._cached

    def _fetch(self, uri: str) -> tuple[Credentials, float]:
        """Read the endpoint; any failure is an OSError (the caller's "unreachable")."""
        try:
            return self._read(uri)
        except (ValueError, KeyError, TypeError) as error:
            raise OSError(f"container credentials unreadable: {error}") from error

    def _read(self, uri: str) -> tuple[Credentials, float]:
        if not uri.startswith(("http://", "https://")):
            raise ValueError("AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http(s) URL")
        headers = {}
        if token := self._environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"):
            headers["Authorization"] = token
        request = urllib.request.Request(uri, headers=headers)  # noqa: S310 - scheme checked above
        # The scheme is checked above; the URI is Lambda's own credentials endpoint.
        with urllib.request.urlopen(  # noqa: S310 - scheme checked  # nosec B310
            request, timeout=CONTAINER_TIMEOUT_SECONDS
        ) as response:
            document = json.loads(response.read())
        credentials = Credentials(
            document["AccessKeyId"], document["SecretAccessKey"], document.get("Token") or None
        )
        expiration = document.get("Expiration")
        expires = (
            datetime.fromisoformat(expiration.replace("Z", "+00:00")).timestamp()
            if isinstance(expiration, str)
            else self._clock() + 2 * REFRESH_MARGIN_SECONDS
        )
        return credentials, expires


def signed_headers(
    method: str,
    host: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    region: str,
    service: str,
    credentials: Credentials,
    now: datetime,
) -> dict[str, str]:
    """`headers` plus x-amz-date, the session token and the Authorization that signs them all.

    `path` is the request path as sent (already percent-encoded); `now` is in UTC. Requests
    without a query string only, which is all talkrate sends.
    """
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    signed = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    signed.update({"host": host, "x-amz-date": amz_date})
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    names = sorted(signed)
    canonical_request = "\n".join(
        [
            method,
            quote(path, safe="/~"),  # every service but S3 signs the path encoded once more
            "",
            *(f"{name}:{signed[name]}" for name in names),
            "",
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = ("AWS4" + credentials.secret_key).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return {**{k: v for k, v in signed.items() if k != "host"}, "authorization": authorization}
