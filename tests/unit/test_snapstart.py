"""SnapStart hooks: a restored environment gets randomness and connections of its own."""

from __future__ import annotations

import random
import sys
import types

import pytest

from talkrate import snapstart, wiring
from talkrate.config import Settings

pytestmark = pytest.mark.unit


def test_after_a_restore_random_is_reseeded_and_every_client_is_made_anew(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an environment whose init seeded random and made its settings and a client
    monkeypatch.setenv("TALKS_CONNECTION", "postgresql://postgres@127.0.0.1:1/talkrate")
    wiring.reset()
    random.seed(1234)
    snapshot_sequence = [random.random() for _ in range(3)]
    random.seed(1234)
    before = wiring.database()
    settings = wiring.load_settings()
    # When it is restored from its snapshot
    snapstart.after_restore()
    # Then random no longer repeats the snapshot's sequence (each copy draws its own)
    assert [random.random() for _ in range(3)] != snapshot_sequence
    # And the next use makes new settings and a new client (no socket shared between copies)
    assert wiring.database() is not before
    assert wiring.load_settings() is not settings
    assert isinstance(wiring.load_settings(), Settings)
    wiring.reset()


def test_before_the_snapshot_the_adapters_are_imported_without_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "talkrate.adapters.talk_cache", raising=False)
    wiring.reset()
    snapstart.before_snapshot(["talkrate.adapters.talk_cache"])
    assert "talkrate.adapters.talk_cache" in sys.modules
    assert wiring.database.cache_info().currsize == 0


def test_the_hooks_are_registered_where_the_runtime_offers_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a runtime with SnapStart's hook library (Lambda's Python 3.12+), here a stand-in
    registered: dict[str, tuple[object, tuple[object, ...]]] = {}
    library = types.ModuleType("snapshot_restore_py")
    library.register_before_snapshot = lambda f, *a: registered.update(before=(f, a))  # type: ignore[attr-defined]
    library.register_after_restore = lambda f, *a: registered.update(after=(f, a))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", library)
    # When a handler registers its adapters
    snapstart.register("talkrate.adapters.postgres")
    # Then the runtime calls the import before the snapshot and the reset after each restore
    assert registered == {
        "before": (snapstart.before_snapshot, (("talkrate.adapters.postgres",),)),
        "after": (snapstart.after_restore, ()),
    }
    # And without the library (tests, the local runtime) nothing is registered and nothing fails
    registered.clear()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails
    snapstart.register("talkrate.adapters.postgres")
    assert registered == {}


# What the API's init leaves to others: the adapters' client libraries (its first request, or
# the snapshot, imports them), the organisers' routes with their validation, the projector's
# announcer and the projection side's values and reader, the interfaces (types only), and what
# only the catalog's routes and GET / use (their first request, or the snapshot, imports it).
_LEFT_OUT_OF_THE_API_INIT = (
    "redis",
    "kafka",
    "psycopg2",
    "pydantic",
    "botocore",
    "talkrate.api.talk_admin",
    "talkrate.announcer",
    "talkrate.projected",
    "talkrate.projection",
    "talkrate.ports",
    "talkrate.catalog",
    "talkrate.live",
    "talkrate.status",
)


def test_the_api_init_loads_no_client_library_nor_what_other_routes_or_functions_use() -> None:
    import json
    import subprocess

    from tests.builders import ROOT

    # Given a new container of the API: its function folder and the layer on the path
    code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(ROOT / 'layers' / 'shared')!r}, {str(ROOT / 'functions' / 'api')!r}]\n"
        "from aws_lambda_powertools import Logger\n"  # what every function loads (the yardstick)
        "before = set(sys.modules)\n"
        "import app\n"
        f"print(json.dumps([m for m in {_LEFT_OUT_OF_THE_API_INIT!r} if m in set(sys.modules) - before]))\n"
    )
    # When its handler module is imported, as Lambda's init does
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    # Then it loaded none of those modules besides what Powertools' Logger loads
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == []


# What the projector's init leaves to its first batch: the live channel's announcer (its
# messages and a thread pool, about 20 ms of a cold start), loaded when a batch counted.
_LEFT_OUT_OF_THE_PROJECTOR_INIT = ("talkrate.announcer", "talkrate.live", "concurrent.futures")


def test_the_projector_init_leaves_the_live_channel_to_its_first_batch() -> None:
    import json
    import subprocess

    from tests.builders import ROOT

    # Given a new container of the projector
    code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(ROOT / 'layers' / 'shared')!r}, "
        f"{str(ROOT / 'functions' / 'projector')!r}]\n"
        "from aws_lambda_powertools import Logger\n"
        "before = set(sys.modules)\n"
        "import app\n"
        f"print(json.dumps([m for m in {_LEFT_OUT_OF_THE_PROJECTOR_INIT!r} "
        "if m in set(sys.modules) - before]))\n"
    )
    # When its handler module is imported, as Lambda's init does
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    # Then the live channel's modules are not among what it loaded
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == []
