"""SPDX 2.2/2.3 YAML: the same tree as SPDX JSON (:mod:`bomguard.sbom.spdx2_json`), read
and written as YAML (PyYAML is imported only for a YAML document)."""

from __future__ import annotations

from typing import Any

import yaml

from bomguard._strict_yaml import StrictYamlLoader
from bomguard.errors import InputError
from bomguard.sbom._common import MAX_DEPTH
from bomguard.sbom.spdx2_json import Spdx2Json

__all__ = ["Spdx2Yaml", "load_yaml"]


class _YamlLoader(StrictYamlLoader):
    """Safe YAML that keeps timestamps as strings and refuses aliases and deep nesting."""

    max_depth = MAX_DEPTH
    alias_error = "YAML aliases are not allowed in an SBOM"


class _YamlDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def load_yaml(text: str, label: str) -> Any:
    """Parse YAML text safely; raise :class:`InputError` naming the line and column."""
    try:
        return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = err.problem or err.context or "not valid YAML"
        raise InputError(f"{label}: {where}{problem}") from err
    except yaml.YAMLError as err:
        raise InputError(f"{label}: not valid YAML: {' '.join(str(err).split())}") from err


class Spdx2Yaml(Spdx2Json):
    """An SPDX 2.2 or 2.3 document in YAML (the same tree as JSON)."""

    format_name = "SPDX YAML"
    format_id = "spdx-yaml"

    def serialize(self) -> bytes:
        text = yaml.dump(
            self.data,
            Dumper=_YamlDumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=4096,
        )
        return text.encode("utf-8")

    def _parse_with_spdx_tools(self, raw: bytes) -> Any:
        # As spdx-tools reads YAML itself: yaml.safe_load (timestamps become datetimes).
        from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser

        return JsonLikeDictParser().parse(  # type: ignore[no-untyped-call]
            yaml.safe_load(raw)
        )
