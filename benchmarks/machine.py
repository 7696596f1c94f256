"""What machine a benchmark ran on: CPU, cores, memory, OS and the versions that matter."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata


def _first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "not found"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            match = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read())
    except OSError:
        return None
    return round(int(match.group(1)) / 1024 / 1024, 1) if match else None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": {
            name: _version(name)
            for name in (
                "Django",
                "channels",
                "daphne",
                "channels-redis",
                "celery",
                "django-haystack",
                "Whoosh-Reloaded",
            )
        },
        "postgresql": _first_line(["psql", "--version"]),
        "redis": _first_line(["redis-server", "--version"]),
        "nginx": _first_line(["nginx", "-v"]),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
