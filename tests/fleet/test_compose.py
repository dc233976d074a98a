"""docker-compose.yml, Dockerfile and deploy/nginx.conf, checked statically against settings.py.

There is no Docker engine on the CI machine, so the fleet file is parsed, not run: these tests
pin what would otherwise drift silently (a renamed variable, a volume on one server only, an
nginx location that no longer matches EXPORT_X_ACCEL_REDIRECT). The same topology runs for
real, without Docker, in the other tests of this folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import yaml

from tests.services import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()
WEB = ["web1", "web2"]
# What a deployer exports before `docker compose up` (the compose file demands the secret).
SHELL_ENV = {"DJANGO_SECRET_KEY": "x" * 50}
# Read by the process, not by settings.py.
PROCESS_VARS = {"DJANGO_SETTINGS_MODULE", "PYTHONUNBUFFERED", "ASGI_THREADS"}


def interpolate(value: object, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} (enough for this file)."""

    def sub(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":-":
            return arg
        if op == ":?":
            raise ValueError(f"{name}: {arg}")
        return ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", sub, str(value))


def web_env(service: str, env: dict[str, str] | None = None) -> dict[str, str]:
    raw = SERVICES[service]["environment"]
    shell = SHELL_ENV if env is None else env
    return {key: interpolate(value, shell) for key, value in raw.items()}


def settings_reads() -> set[str]:
    source = (ROOT / "realtime_site" / "settings.py").read_text()
    return set(re.findall(r"env_(?:str|bool|int|float|list)\(\s*\"([A-Z0-9_]+)\"", source))


def nginx_location(prefix: str) -> str:
    match = re.search(r"location\s+" + re.escape(prefix) + r"\s*\{(.*?)\n    \}", NGINX, re.S)
    assert match, f"nginx.conf has no `location {prefix}` block"
    return match.group(1)


def test_the_fleet_has_every_part():
    assert {"db", "redis", "mailpit", "nginx", "migrate", *WEB} <= set(SERVICES)
    assert SERVICES["db"]["image"].startswith("postgres:")
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert "mailpit" in SERVICES["mailpit"]["image"]
    assert any(p.endswith(":8025") for p in SERVICES["mailpit"]["ports"]), "mail web UI"
    assert SERVICES["nginx"]["image"].startswith("nginx:")
    assert "media" in COMPOSE["volumes"]


@pytest.mark.parametrize("name", sorted(web_env("web1")))
def test_every_variable_it_sets_is_read_by_settings(name):
    assert name in settings_reads() | PROCESS_VARS, f"{name} is set but settings.py never reads it"


def test_both_web_servers_are_one_image_one_env_one_volume():
    one, two = SERVICES["web1"], SERVICES["web2"]
    assert one == two, "web1 and web2 differ"
    assert one["image"] == SERVICES["migrate"]["image"] and one["build"] == "."
    assert one["environment"] == SERVICES["migrate"]["environment"]
    media = web_env("web1")["MEDIA_ROOT"]
    assert f"media:{media}" in one["volumes"], "the web servers must share the media volume"
    assert any(v.startswith(f"media:{media}") for v in SERVICES["nginx"]["volumes"])
    assert one["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "stop_grace_period" in one, "SIGTERM needs time to mark jobs interrupted"


def test_the_image_runs_daphne_on_the_asgi_app():
    assert re.search(r"^FROM python:3\.11", DOCKERFILE, re.M)
    cmd = DOCKERFILE[DOCKERFILE.index("CMD") :]
    assert '"daphne"' in cmd and '"realtime_site.asgi:application"' in cmd
    assert '"0.0.0.0"' in cmd and '"8000"' in cmd
    assert "USER app" in DOCKERFILE, "do not run the web server as root"
    assert "pip install ./clients/python" in DOCKERFILE  # rtjobs inside the image
    assert re.search(r"server\s+web1:8000", NGINX) and re.search(r"server\s+web2:8000", NGINX)


def test_urls_point_at_the_services_they_name():
    env = web_env("web1")
    db = urlsplit(env["DATABASE_URL"])
    pg = SERVICES["db"]["environment"]
    assert db.scheme.startswith("postgres") and db.hostname == "db"
    assert (db.username, db.password, db.path.lstrip("/")) == (
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
        pg["POSTGRES_DB"],
    )
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    mail = urlsplit(env["EMAIL_URL"])
    assert (mail.scheme, mail.hostname, mail.port) == ("smtp", "mailpit", 1025)


def test_nginx_upgrades_websockets():
    assert re.search(r"map\s+\$http_upgrade\s+\$connection_upgrade", NGINX)
    ws = nginx_location("/ws/")
    assert "proxy_http_version 1.1;" in ws
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $connection_upgrade;" in ws
    # The Origin check compares with the Host header: pass the browser's host through.
    assert "proxy_set_header Host $http_host;" in ws
    assert re.search(r"proxy_read_timeout\s+(\d+)h", ws), "idle job sockets must not time out"


def test_nginx_internal_location_matches_x_accel_redirect():
    env = web_env("web1")
    accel = env["EXPORT_X_ACCEL_REDIRECT"]
    assert accel.startswith("/") and accel.endswith("/")
    block = nginx_location(accel)
    assert re.search(r"^\s*internal;", block, re.M), "the file location must be internal"
    alias = re.search(r"alias\s+(\S+);", block).group(1)
    assert alias.rstrip("/") == env["MEDIA_ROOT"].rstrip("/")
    assert "return 404" in nginx_location("/media/")


def test_allowed_hosts_is_never_a_wildcard():
    for service in (*WEB, "migrate"):
        hosts = web_env(service)["DJANGO_ALLOWED_HOSTS"].split(",")
        assert "*" not in hosts and hosts
    # Even when the deployer's shell sets it, production settings refuse '*' (below).


def test_the_secret_must_come_from_the_deployer():
    with pytest.raises(ValueError, match="DJANGO_SECRET_KEY"):
        web_env("web1", {})


def _load_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], "
        "'db_host': s.DATABASES['default']['HOST'], "
        "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], "
        "'accel': s.EXPORT_X_ACCEL_REDIRECT, 'media': str(s.MEDIA_ROOT), "
        "'mail': [s.MAIL_TRANSPORT_BACKEND, *map(s.MAIL_TRANSPORT_OPTIONS.get, ('host', 'port'))], "
        "'hosts': s.ALLOWED_HOSTS, 'static': s.SERVE_STATIC, "
        "'bound': s.JOBS_STALE_AFTER + s.JOBS_HEARTBEAT_INTERVAL, 'debug': s.DEBUG}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "realtime_site.settings", **env},
        check=False,
    )


def test_settings_load_with_exactly_the_compose_environment():
    env = web_env("web1")
    done = _load_settings(env)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["db"] == "django.db.backends.postgresql" and got["db_host"] == "db"
    assert got["layer"].startswith("channels_redis.")
    assert got["accel"] == env["EXPORT_X_ACCEL_REDIRECT"]
    assert got["media"] == env["MEDIA_ROOT"]
    assert got["mail"] == ["django.core.mail.backends.smtp.EmailBackend", "mailpit", 1025]
    assert got["static"] is False and got["debug"] is False
    assert "*" not in got["hosts"]
    assert got["bound"] <= 60, "a dead server's jobs must be interrupted within a minute"


def test_production_settings_refuse_a_wildcard_host():
    done = _load_settings({**web_env("web1"), "DJANGO_ALLOWED_HOSTS": "*"})
    assert done.returncode != 0 and "DJANGO_ALLOWED_HOSTS" in done.stderr


def test_readme_describes_this_fleet():
    readme = (ROOT / "README.md").read_text()
    assert "## Deploying on several servers" in readme
    section = readme.split("## Deploying on several servers", 1)[1].split("\n## ", 1)[0]
    for name in (
        "docker compose",
        "DJANGO_SECRET_KEY",
        "EXPORT_X_ACCEL_REDIRECT",
        "mailpit",
        "REDIS_URL",
        "DATABASE_URL",
        "MEDIA_ROOT",
        "JOBS_STALE_AFTER",
        "SIGTERM",
    ):
        assert name in section, f"README fleet section does not mention {name}"
    assert "8080" in section and "8025" in section
