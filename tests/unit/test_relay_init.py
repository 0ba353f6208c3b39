"""RelayFunction's cold start: what its init loads. It runs once a minute and at every rebuild
the API asks for, so a new environment's init is paid often; the API's way of asking it
(talkrate.adapters.rebuild_requests, the Lambda Invoke API over urllib) is not its own."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.builders import ROOT

_RELAY_INIT = """
import json, sys
sys.path[:0] = [{layer!r}, {function!r}]
import app
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})))
"""

# What the Invoke API's client brought in (urllib.request: email, http.client and ssl with it).
HEAVY = ["urllib", "email", "http", "ssl"]


def test_the_relay_s_init_loads_no_http_client() -> None:
    code = _RELAY_INIT.format(
        layer=str(ROOT / "layers" / "shared"),
        function=str(ROOT / "functions" / "relay"),
        heavy=HEAVY,
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    loaded = [m for m in json.loads(ran.stdout) if m not in ("urllib", "urllib.parse")]
    assert loaded == []
