"""Settings of benchmarks/chat_load.py's Daphne: the portal's, minus the flood limit, and with
SQLite (the embedded default) in WAL mode so one commit does not wait for a full fsync.

5 messages/s per conversation is above the chat's abuse guard of 20 messages in 10 s per user.
"""

from support_portal.settings import *  # noqa: F403

CHAT_RATE_LIMIT_MESSAGES = 1_000_000
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"  # noqa: F405
    # Keep the database thread's connection open between socket frames (the embedded default,
    # CONN_MAX_AGE 0, closes and reopens SQLite around every database_sync_to_async call).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("BENCH_SQLITE_CONN_MAX_AGE", default=600)  # noqa: F405
