"""Fixtures: real Redis, PostgreSQL and daphne processes; users; a live client."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import PASSWORD, make_user
from tests.live import LiveClient
from tests.services import ROOT, Daphne, Postgres, Redis

OUTPUT = Path(os.environ.get("TEST_OUTPUT_DIR", ROOT / "test-output"))

# A shell starts a background command (`make test` runs the Django 6.1 leg with `&`) with
# SIGINT ignored, an ignored signal stays ignored across exec, and Python then installs no
# KeyboardInterrupt handler: every process the tests start would shrug off the Ctrl-C they
# send it (run_job, rtjobs). A handler here is reset to the default in each child at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    server = Redis()
    server.url = server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: Redis) -> str:
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[Postgres, str]]:
    server = Postgres()
    url = server.start()
    yield server, url
    server.stop()


@pytest.fixture(scope="session")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


def _sqlite_env(media_root: Path, var_dir: Path) -> dict[str, str]:
    from django.db import connection

    return {
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "MEDIA_ROOT": str(media_root),
        "DJANGO_VAR_DIR": str(var_dir),
    }


@pytest.fixture(scope="session")
def server_inmemory(django_db_setup, django_db_blocker, media_root, output_dir,
                    tmp_path_factory) -> Iterator[Daphne]:
    """daphne on the embedded default: the test database file, the in-process layer."""
    env = _sqlite_env(media_root, tmp_path_factory.mktemp("var"))
    server = Daphne(env=env, log_dir=output_dir, name="daphne-inmemory").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server_redis(django_db_setup, redis_url, media_root, output_dir,
                 tmp_path_factory) -> Iterator[Daphne]:
    """daphne on the test database file with channels-redis."""
    env = _sqlite_env(media_root, tmp_path_factory.mktemp("var"))
    env.update(REDIS_URL=redis_url, CHANNEL_LAYER_PREFIX=f"rt-{uuid.uuid4().hex[:8]}")
    server = Daphne(env=env, log_dir=output_dir, name="daphne-redis").start()
    yield server
    server.stop()


@pytest.fixture(params=["inmemory", "redis"])
def live_server_url(request: pytest.FixtureRequest, transactional_db) -> str:
    """Each test that uses it runs once per channel layer."""
    return request.getfixturevalue(f"server_{request.param}").url


@pytest.fixture
def staff_user(transactional_db):
    return make_user(staff=True)


@pytest.fixture
def live_client(live_server_url: str, staff_user) -> Iterator[LiveClient]:
    client = LiveClient(live_server_url).login(staff_user.username, PASSWORD)
    yield client
    client.close()
