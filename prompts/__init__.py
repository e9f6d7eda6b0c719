"""Prompt templates (Jinja2, ``*.j2``), shipped as package data; rendered by ``bot.prompts``."""
