"""Celery application: eager in the embedded default, Redis broker when REDIS_URL is set."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_portal.settings")

app = Celery("support_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
