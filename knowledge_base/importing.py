"""Reading article files for kb_import and the demo: a JSON list or Markdown with front matter.

Markdown files look like:

    ---
    title: La impresora no imprime
    slug: impresora-no-imprime          (optional: from the file name)
    category: Impresoras y periféricos
    category_en: Printers and peripherals   (optional: the category's English name)
    language: es
    tags: impresora, tickets, papel
    summary: Qué revisar cuando ...
    status: published                   (optional; draft, in_review, archived)
    translation_of: slug-of-the-original (optional: links the two as translations)
    ---
    Markdown body...
"""

from __future__ import annotations

import json
from pathlib import Path

MAX_FILE_BYTES = 1_000_000


def parse_front_matter(text: str) -> tuple[dict, str]:
    """(metadata, body) of a Markdown file with a `---` front-matter block of `key: value` lines."""
    if not text.startswith("---"):
        return {}, text
    head, sep, body = text[3:].partition("\n---")
    if not sep:
        return {}, text
    meta: dict = {}
    for line in head.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip():
            meta[key.strip().lower()] = value.strip()
    if "tags" in meta:
        meta["tags"] = [t.strip() for t in meta["tags"].strip("[]").split(",") if t.strip()]
    return meta, body.lstrip("-").lstrip("\n")


def read_articles(path: Path) -> list[dict]:
    """Article records from a JSON file (a list) or every *.md file of a folder (sorted by name),
    translations (`translation_of`) after the others: the article a translation names must exist
    when it is imported, or the first import would not link them."""
    path = Path(path)
    if path.is_dir():
        records = []
        for file in sorted(path.glob("*.md")):
            if file.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"{file.name}: file too large")
            meta, body = parse_front_matter(file.read_text(encoding="utf-8"))
            records.append({"slug": meta.get("slug") or file.stem, **meta, "body": body})
    elif not path.is_file():
        raise ValueError(f"{path}: no such file or folder")
    else:
        records = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(records, list) or not all(isinstance(item, dict) for item in records):
            raise ValueError(f"{path}: expected a JSON list of article objects")
    return sorted(records, key=lambda record: bool(record.get("translation_of")))
