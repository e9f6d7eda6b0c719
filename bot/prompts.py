"""Prompt templates in ``prompts/``, rendered strictly: a missing variable is an error."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from despatch.errors import ConfigError


def prompts_dir() -> Path:
    """The ``prompts`` package's folder: the checkout's, or an installed wheel's."""
    import prompts

    return Path(prompts.__file__).parent


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain-text prompts, never HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **variables: Any) -> str:
    """Render ``prompts/<name>.j2`` with exactly these variables."""
    import jinja2

    try:
        return str(_environment().get_template(f"{name}.j2").render(**variables)).strip()
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"No prompt template {prompts_dir() / (name + '.j2')}; restore it from git"
        ) from exc
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"Prompt {name}.j2 needs a variable that was not given: {exc.message}") from exc
