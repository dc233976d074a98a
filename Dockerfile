# One image for every web server of the fleet (docker-compose.yml: web1, web2, migrate).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

# Dependencies first so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p realtime_site jobs exports campaigns consumers \
    && touch realtime_site/__init__.py jobs/__init__.py exports/__init__.py \
       campaigns/__init__.py consumers/__init__.py \
    && pip install . \
    && pip uninstall -y realtime-jobs

COPY . .
# The `rtjobs` command too, for scripts run inside the container (`docker compose exec web1 rtjobs list`).
RUN pip install ./clients/python

RUN useradd --create-home --uid 1000 app \
    && mkdir -p /srv/media /srv/static /app/var \
    && chown -R app:app /srv/media /srv/static /app/var
USER app

EXPOSE 8000
# SIGTERM (docker stop) lets daphne mark this server's running jobs `interrupted` before it
# exits (realtime_site/lifecycle.py); give it the compose stop_grace_period.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", \
     "realtime_site.asgi:application"]
