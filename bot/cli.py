"""CLI commands of the bot stage: ask (eval and serve register here too)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the bot's subcommands on the ``despatch`` parser."""
    return None
