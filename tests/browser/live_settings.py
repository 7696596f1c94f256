"""Settings of the live processes the browser and reliability tests start (Daphne, Celery).

The project's settings, plus a few knobs the tests turn through environment variables:
- LIVE_CHAT_RATE_LIMIT: messages per 10 s per user (the 1,000-message reliability run needs more
  than the production 20; every other test keeps the production value).
- LIVE_EMAIL_DIR: write e-mails as files there, so a test can count what a Celery worker sent.
- PASSWORD_HASHERS: a fast hasher (the production one makes every login take seconds under load).
- LIVE_STATIC_ROOT: where `collectstatic` puts the files a production-mode (DEBUG off) stack serves.
"""

import os

from support_portal.settings import *  # noqa: F403

# Fast password hashing in live stacks: every login would otherwise run PBKDF2's 1,000,000
# iterations, seconds per login on a loaded 2-core machine (a 10 s click timeout was hit).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if os.environ.get("LIVE_CHAT_RATE_LIMIT"):
    CHAT_RATE_LIMIT_MESSAGES = int(os.environ["LIVE_CHAT_RATE_LIMIT"])

if os.environ.get("LIVE_EMAIL_DIR"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["LIVE_EMAIL_DIR"]

if os.environ.get("LIVE_STATIC_ROOT"):
    STATIC_ROOT = os.environ["LIVE_STATIC_ROOT"]
