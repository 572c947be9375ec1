"""FastAPI dependencies shared by the HTTP handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bot.app import Components


def _components(request: Request) -> Components:
    return request.app.state.components


Parts = Annotated[Components, Depends(_components)]
