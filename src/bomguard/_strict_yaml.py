"""One strict YAML loader for SBOMs and policies: safe, and refusing what cannot be read
back faithfully or could exhaust the reader.

- timestamps stay strings (a date is data, not a ``datetime``);
- a duplicate key is an error (last-wins would silently drop data);
- nesting deeper than :attr:`StrictYamlLoader.max_depth` is refused before PyYAML's
  recursive composer runs out of stack;
- an integer over Python's digit limit becomes :class:`bomguard._strict.Invalid`, which
  the caller reports with its key path;
- aliases are refused where :attr:`StrictYamlLoader.alias_error` says why (SBOMs: no
  billion laughs).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

import yaml

from bomguard._strict import oversized_int

__all__ = ["StrictYamlLoader"]

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class StrictYamlLoader(yaml.SafeLoader):
    """A ``SafeLoader`` with the rules above; subclasses set the depth and alias rule."""

    yaml_implicit_resolvers = {
        first: [r for r in resolvers if r[0] != _TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    max_depth: ClassVar[int] = 64
    alias_error: ClassVar[str | None] = None
    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.alias_error is not None and self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, self.alias_error, event.start_mark)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {self.max_depth} deep", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def _construct_int(self, node: yaml.ScalarNode) -> Any:
        value = self.construct_scalar(node)
        if isinstance(value, str):
            too_long = oversized_int(value.replace("_", ""))
            if too_long is not None:
                return too_long
        return self.construct_yaml_int(node)


StrictYamlLoader.add_constructor("tag:yaml.org,2002:int", StrictYamlLoader._construct_int)
