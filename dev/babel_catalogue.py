"""Babel extractor for the shipped cookie catalogues (`setup.py extract_messages`).

The built-in catalogue and the examples give each text as a mapping of languages with
English (and French) in it; the English text is the msgid, so that translators of every
other language work in the .po files as for any other message. At start-up the
catalogue looks each English text up in the extension's translations
(catalogue/texts.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

# Fields whose values are texts shown to people.
TEXT_FIELDS = {"title", "description", "provider", "service", "purpose", "duration_text"}


def extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, None, str, list[str]]]:
    root = yaml.compose(fileobj.read().decode("utf-8"))
    yield from _walk(root, None)


def _walk(node: Any, field: str | None) -> Iterator[tuple[int, None, str, list[str]]]:
    if isinstance(node, yaml.MappingNode):
        if field in TEXT_FIELDS:
            for key, value in node.value:
                if key.value == "en" and isinstance(value, yaml.ScalarNode):
                    yield value.start_mark.line + 1, None, _scalar(value), [f"catalogue {field}"]
            return
        for key, value in node.value:
            yield from _walk(value, key.value if isinstance(key, yaml.ScalarNode) else None)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, None)


def _scalar(node: yaml.ScalarNode) -> str:
    return str(yaml.safe_load(yaml.serialize(node))).strip()
