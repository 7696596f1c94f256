# One image for every application process of docker-compose.yml: Daphne (web), Celery worker,
# Celery beat and the one-shot `migrate` job. nginx, PostgreSQL, Redis and Elasticsearch use
# their official images.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=support_portal.settings

WORKDIR /app

# Runtime requirements only (psycopg[binary], channels-redis, elasticsearch 7 client, ...).
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Static files are collected at build time (whitenoise serves them from Daphne). The build
# needs a throwaway key only because settings refuse to load without one when DEBUG is off.
RUN SECRET_KEY=build-only-collectstatic DEBUG=false python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q accounts chat knowledge_base notifications support_portal tickets \
    && useradd --system --uid 10001 --home-dir /app portal \
    && mkdir -p /app/var/media \
    && chown -R portal /app/var

USER portal
EXPOSE 8000

CMD ["daphne", "--proxy-headers", "-b", "0.0.0.0", "-p", "8000", "support_portal.asgi:application"]
