"""Settings of the chat scale benchmark's Daphne processes: the portal's own, minus the flood limit.

The chat refuses more than 20 messages in 10 s from one user (an abuse guard, DESIGN.md).
benchmarks/chat_scale.py measures how many messages the servers can carry, so each simulated
user sends as fast as the previous message is delivered; the guard would cap that at 2 msg/s
per user and measure the limit instead of the servers. Everything else is unchanged.
"""

from support_portal.settings import *  # noqa: F403

CHAT_RATE_LIMIT_MESSAGES = 1_000_000
