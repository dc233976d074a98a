"""ASGI entry point: HTTP through Django, /ws/ through Channels."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "realtime_site.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.SERVE_STATIC:
    # One machine, no front server: daphne serves /static/ itself (small files, read whole).
    from asgiref.sync import sync_to_async
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.core.exceptions import SuspiciousOperation
    from django.core.handlers.exception import response_for_exception

    class StaticFilesHandler(ASGIStaticFilesHandler):
        """Django's handler lets SuspiciousFileOperation escape (only Http404 is caught), so
        `GET /static/../realtime_site/settings.py` was a 500 (tests/hostile); answer 400."""

        async def get_response_async(self, request):
            try:
                return await super().get_response_async(request)
            except SuspiciousOperation as exc:
                return await sync_to_async(response_for_exception, thread_sensitive=False)(
                    request, exc
                )

    django_asgi_app = StaticFilesHandler(django_asgi_app)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from consumers.bearer import BearerOrCookie  # noqa: E402
from consumers.origin import SameOriginValidator  # noqa: E402
from consumers.routing import websocket_urlpatterns  # noqa: E402
from realtime_site import lifecycle  # noqa: E402
from realtime_site.lifecycle import ServerLoopMiddleware  # noqa: E402

application = ServerLoopMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            # A Bearer header on the upgrade request: the token path, no Origin or cookie;
            # anything else: the Origin check and the session, as before (consumers/bearer.py).
            "websocket": BearerOrCookie(
                token_app=URLRouter(websocket_urlpatterns),
                cookie_app=SameOriginValidator(
                    AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
                ),
            ),
        }
    )
)

lifecycle.install()
