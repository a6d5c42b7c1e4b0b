"""Settings from a file and from the environment, under the command-line flags.

Every option of ``enrich``, ``fetch``, ``verify`` and the ``policy`` subcommands
(``policy check`` and ``policy test``: ``--cel-engine``) can also be given

* as an environment variable ``BOMGUARD_<OPTION>`` (``--trust-root`` is
  ``BOMGUARD_TRUST_ROOT``; a repeatable option takes a list, of paths separated by
  ``os.pathsep`` as in ``PATH``, else by whitespace; a flag ``1``/``true``/``0``/``false``),
  and
* in a settings file: ``bomguard.toml`` in the current directory (keys at the top level)
  or else ``pyproject.toml`` there (keys under ``[tool.bomguard]``), or the file named by
  ``BOMGUARD_CONFIG``. Keys are option names without the dashes (``trust-root =
  "embedded"``); a table named after a command (``[tool.bomguard.enrich]``) applies to
  that command only and wins over the top level (``[tool.bomguard.policy]`` applies to
  every ``policy`` subcommand). Relative paths are relative to the file.

A settings file found in the working directory is part of the repository, which a pull
request can change; so it may not set what decides where evidence comes from or what it
is checked against (:data:`TRUSTED_ONLY`: the index, mirror, trust root, store, caches).
Those come from flags, the environment, or a file named by ``BOMGUARD_CONFIG``.

A flag wins over the environment, which wins over the file, which wins over the
default (click's own order for ``envvar`` and ``default_map``). ``bomguard config``
shows the effective value of every option and where it came from. An unknown key or a
file that does not parse is an input error (exit 2) naming the file and the key: a
misspelt setting is never silently ignored.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from bomguard.errors import InputError

__all__ = [
    "CONFIGURABLE",
    "ENV_CONFIG",
    "Setting",
    "SettingsFile",
    "configure",
    "effective",
    "env_name",
    "find_settings_file",
]

ENV_CONFIG = "BOMGUARD_CONFIG"

#: Keys a settings file found in the working directory may not set (see the module doc).
TRUSTED_ONLY = frozenset(
    {
        "index-url",
        "extra-index-url",
        "allow-provenance-host",
        "mirror",
        "cert",
        "trust-root",
        "staging",
        "trust-config",
        "store",
        "cache-dir",
        "no-cache",
        "store-history",
        "revalidate",
        "hash-files",
        "max-file-bytes",
    }
)
ENV_PREFIX = "BOMGUARD_"

#: The commands whose options can be set from a file or the environment, and where
#: each lives (module, attribute).
CONFIGURABLE: dict[str, tuple[str, str]] = {
    "enrich": ("bomguard.cli.enrich", "enrich"),
    "fetch": ("bomguard.cli.fetch", "fetch"),
    "verify": ("bomguard.cli.verify", "verify"),
    "policy": ("bomguard.cli.policy", "policy_group"),
}


@dataclass(frozen=True, slots=True)
class SettingsFile:
    """A settings file and its ``bomguard`` table (top level and per-command tables)."""

    path: Path
    table: Mapping[str, Any]

    def for_command(self, name: str) -> dict[str, Any]:
        """The keys that apply to command ``name``: the top level, then its own table."""
        found = {k: v for k, v in self.table.items() if not isinstance(v, dict)}
        own = self.table.get(name)
        if isinstance(own, dict):
            found.update(own)
        return found


@dataclass(frozen=True, slots=True)
class Setting:
    """One option's effective value and where it came from."""

    option: str
    value: Any
    source: str
    """``default``, ``environment (BOMGUARD_X)`` or ``file (path)``."""


def _long_flag(param: click.Parameter) -> str | None:
    longs = [o for o in param.opts if o.startswith("--")]
    return longs[0] if longs else None


def env_name(param: click.Parameter) -> str | None:
    """``BOMGUARD_<OPTION>`` for an option (from its long flag), ``None`` for arguments."""
    flag = _long_flag(param) if isinstance(param, click.Option) else None
    if flag is None or flag == "--help":
        return None
    return ENV_PREFIX + flag[2:].upper().replace("-", "_")


def _own_options(command: click.Command) -> dict[str, click.Option]:
    """The command's options by key (long flag without dashes)."""
    found = {}
    for param in command.params:
        flag = _long_flag(param) if isinstance(param, click.Option) else None
        if flag is not None and isinstance(param, click.Option):
            found[flag[2:]] = param
    return found


def _runs(command: click.Command) -> list[tuple[click.Command, dict[str, click.Option]]]:
    """The commands that run and the options of each that settings may give: the command
    and all its options; for a group, each subcommand and those of its options that a
    command which is not a group also has (``policy``: ``--cel-engine``)."""
    if not isinstance(command, click.Group):
        return [(command, _own_options(command))]
    shared = {
        key
        for other in _commands().values()
        if not isinstance(other, click.Group)
        for key in _own_options(other)
    }
    runs = []
    for sub in command.commands.values():
        options = {k: v for k, v in _own_options(sub).items() if k in shared}
        if options:
            runs.append((sub, options))
    return runs


def _options(command: click.Command) -> dict[str, click.Option]:
    """Every option settings may give ``command`` (any of its subcommands'), by key."""
    return {k: v for _, options in _runs(command) for k, v in options.items()}


def find_settings_file(cwd: Path | None = None) -> SettingsFile | None:
    """``$BOMGUARD_CONFIG``, else ``bomguard.toml``, else ``pyproject.toml`` with a
    ``[tool.bomguard]`` table, in ``cwd``; ``None`` when there is none."""
    folder = cwd or Path.cwd()
    named = os.environ.get(ENV_CONFIG)
    candidates = [Path(named)] if named else [folder / "bomguard.toml", folder / "pyproject.toml"]
    for path in candidates:
        if not path.is_file():
            if named:
                raise InputError(f"{ENV_CONFIG}={named}: no such file")
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise InputError(f"{path}: not a readable TOML file: {err}") from err
        if path.name == "pyproject.toml":
            tool = data.get("tool", {})
            table = tool.get("bomguard") if isinstance(tool, dict) else None
            if table is None:
                continue
            if not isinstance(table, dict):
                raise InputError(f"{path}: tool.bomguard: expected a table")
            return SettingsFile(path, table)
        return SettingsFile(path, data)
    return None


def _where(settings: SettingsFile) -> str:
    return "tool.bomguard." if settings.path.name == "pyproject.toml" else ""


def _check_keys(settings: SettingsFile, commands: Mapping[str, click.Command]) -> None:
    """Every key names an option of some command (top level) or of its table's command,
    and a file found in the working directory sets none of :data:`TRUSTED_ONLY`."""
    prefix = _where(settings)
    known_anywhere = {key for command in commands.values() for key in _options(command)}
    if not os.environ.get(ENV_CONFIG):
        for key, value in settings.table.items():
            named = [f"{key}.{sub}" for sub in value] if isinstance(value, dict) else [key]
            for full in named:
                if full.rsplit(".", 1)[-1] in TRUSTED_ONLY:
                    raise InputError(
                        f"{settings.path}: {prefix}{full}: decides where evidence comes from "
                        "or what it is checked against, so a settings file in the working "
                        "directory (which a pull request can change) may not set it; give it "
                        f"as a flag, a BOMGUARD_<OPTION> variable, or in a file {ENV_CONFIG} "
                        "names"
                    )
    for key, value in settings.table.items():
        if isinstance(value, dict):
            if key not in commands:
                raise InputError(
                    f"{settings.path}: {prefix}{key}: not a command whose options can be set "
                    f"(one of {', '.join(sorted(commands))})"
                )
            own = _options(commands[key])
            for sub in value:
                if sub not in own:
                    raise InputError(f"{settings.path}: {prefix}{key}.{sub}: {key} has no --{sub}")
        elif key not in known_anywhere:
            raise InputError(f"{settings.path}: {prefix}{key}: no command has an option --{key}")


def _file_value(param: click.Option, value: Any, base: Path) -> Any:
    """A file value as click's ``default_map`` takes it (relative paths made absolute)."""

    def one(item: Any) -> Any:
        if isinstance(param.type, click.Path) and isinstance(item, str) and item != "-":
            path = Path(item).expanduser()
            return str(path if path.is_absolute() else base / path)
        return item

    if param.multiple:
        items = value if isinstance(value, list) else [value]
        return [one(v) for v in items]
    return one(value)


def _commands() -> dict[str, click.Command]:
    return {
        name: getattr(importlib.import_module(module), attr)
        for name, (module, attr) in CONFIGURABLE.items()
    }


def configure(command: click.Command, name: str) -> click.Command:
    """Give each option of ``command`` its ``BOMGUARD_<OPTION>`` variable, and the values
    of the settings file (if any) as defaults under the flags and the environment."""
    if name not in CONFIGURABLE:
        return command
    runs = _runs(command)
    for each, options in runs:
        for param in options.values():
            if param.envvar is None:
                param.envvar = env_name(param)
        each.context_settings.pop("default_map", None)  # from an earlier run in this process
    settings = find_settings_file()
    if settings is None:
        return command
    _check_keys(settings, _commands())
    base = settings.path.parent
    for each, options in runs:
        each.context_settings["default_map"] = {
            options[key].name: _file_value(options[key], value, base)
            for key, value in settings.for_command(name).items()
            if key in options
        }
    return command


def effective(name: str) -> list[Setting]:
    """Every option of command ``name``: its value with no flags given, and its source
    (resolved by click itself, as a run of the command would)."""
    settings = find_settings_file()
    out = []
    seen: set[str] = set()
    for command, options in _runs(configure(_commands()[name], name)):
        ctx = command.make_context(name, [], resilient_parsing=True)
        for key, param in options.items():
            if key not in seen:
                seen.add(key)
                out.append(_setting(ctx, key, param, settings))
    return out


def _setting(
    ctx: click.Context, key: str, param: click.Option, settings: SettingsFile | None
) -> Setting:
    """One option's value in ``ctx`` and its source."""
    source = ctx.get_parameter_source(param.name or "")
    value = ctx.params.get(param.name or "")
    if source is click.core.ParameterSource.ENVIRONMENT:
        where = f"environment ({param.envvar})"
    elif source is click.core.ParameterSource.DEFAULT_MAP and settings is not None:
        where = f"file ({settings.path})"
    else:
        where = "default"
    if isinstance(value, tuple):
        value = list(value)
    return Setting(key, value, where)
