"""Settings for the test process: the embedded default whatever the shell exports.

Servers that the end-to-end tests start run the real `realtime_site.settings` with an explicit
environment; REDIS_URL and DATABASE_URL reach the tests through fixtures, not through here.
"""

import os
import tempfile

from realtime_site.mail import mail_settings
from realtime_site.settings import *  # noqa: F403
from realtime_site.settings import BASE_DIR

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BASE_DIR / "var" / "unused.sqlite3"),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
        # A file, not :memory:, so server processes started by the tests share it.
        "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"rt-test-{os.getpid()}.sqlite3")},
    }
}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The transport keeps mail in django.core.mail.outbox (MAILERS["transport"] on Django >= 6.1).
globals().update(mail_settings("django.core.mail.backends.locmem.EmailBackend", {},
                               timeout=MAIL_TIMEOUT, post_office=POST_OFFICE))  # noqa: F405
JOBS_DEMO_ENDPOINT = True
MEDIA_ROOT = tempfile.mkdtemp(prefix="rt-media-")
DEBUG = False
