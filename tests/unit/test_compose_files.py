"""compose.yaml and the files `sam local` reads beside it, checked without Docker: the structure a
compose engine needs, the services talkrate needs, and the seed being current."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest
import yaml

from talkrate_local import compose_seed
from tests.builders import ROOT

pytestmark = pytest.mark.unit

COMPOSE = ROOT / "compose.yaml"
SERVICE_KEYS = {
    "image",
    "command",
    "entrypoint",
    "environment",
    "ports",
    "volumes",
    "healthcheck",
    "depends_on",
    "restart",
}
PORT = re.compile(r"^127\.0\.0\.1:(\d{1,5}):(\d{1,5})$")
IMAGE = re.compile(r"^[a-z0-9./-]+:[A-Za-z0-9._-]+$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


def test_compose_has_the_services_talkrate_needs(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "redpanda", "console"} <= set(services)
    for name, service in services.items():
        assert set(service) <= SERVICE_KEYS, f"{name}: unknown keys {set(service) - SERVICE_KEYS}"
        # Pinned images: a floating tag changes the stack under people's feet.
        assert IMAGE.match(service["image"]), f"{name}: {service['image']}"
        assert not service["image"].endswith(":latest")


def test_published_ports_are_loopback_only_and_the_defaults_talkrate_looks_for(
    compose: dict[str, Any],
) -> None:
    published: dict[str, int] = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            match = PORT.match(port)
            assert match, f"{name}: {port!r} must be 127.0.0.1:HOST:CONTAINER"
            published[name] = int(match.group(1))
    assert published["postgres"] == 5432
    assert published["redis"] == 6379
    assert published["redpanda"] == 9092
    assert len(set(published.values())) == len(published)


def test_long_running_services_have_healthchecks_and_dependencies_wait_for_them(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name, service in services.items():
        if service.get("restart") == "no" or name == "console":
            continue  # a one-shot job; a web UI nothing depends on
        check = service.get("healthcheck")
        assert check, f"{name}: no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL")
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition == {"condition": "service_healthy"}


def test_volumes_are_declared_and_bind_mounts_exist(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), f"{name}: {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"


def test_the_network_has_the_name_sam_local_joins(compose: dict[str, Any]) -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    network = compose["networks"]["default"]["name"]
    for command in ("local_start_api", "local_invoke", "local_start_lambda"):
        parameters = config["local"][command]["parameters"]
        assert parameters["docker_network"] == network
        assert (ROOT / parameters["env_vars"]).is_file()


def test_sam_env_file_names_the_compose_services(compose: dict[str, Any]) -> None:
    values = json.loads((ROOT / "local" / "compose" / "sam-env.json").read_text())["Parameters"]
    services = compose["services"]
    hosts = {
        "TALKS_CONNECTION": values["TALKS_CONNECTION"].split("@", 1)[1].split(":")[0],
        "RATINGS_CONNECTION": values["RATINGS_CONNECTION"].split("//", 1)[1].split(":")[0],
        "STREAMS_CONNECTION": values["STREAMS_CONNECTION"].split(":")[0],
    }
    assert all(host in services for host in hosts.values()), hosts
    # No secrets locally: blank means unset for talkrate.config.
    assert values["CONNECTIONS_SECRET_ARN"] == ""


def test_samconfig_has_local_dev_and_prod_environments() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert {"local", "dev", "prod"} <= set(config)


def test_the_committed_seed_is_generated_from_the_dev_talks() -> None:
    committed = (ROOT / "local" / "compose" / "20-dev-talks.sql").read_text()
    assert committed == compose_seed.render(), "run `make compose-seed`"


def test_seed_literals_escape_quotes() -> None:
    assert compose_seed.literal("Liam O'Connor") == "'Liam O''Connor'"
    assert compose_seed.literal(None) == "NULL"
