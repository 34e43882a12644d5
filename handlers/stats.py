"""Coordinator statistics (/stats). Placeholder until issue 5 lands."""

from __future__ import annotations

from aiogram import Router


def build_router() -> Router:
    return Router(name="stats")
