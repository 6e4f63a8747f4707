"""Mounting the admin API and the web console on a gateway's application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from gateway.admin.actions import Admin
from gateway.admin.api import AdminApi
from gateway.admin.console import Console

if TYPE_CHECKING:
    from gateway.runtime import Gateway


def mount_admin(app: web.Application, gateway: Gateway) -> None:
    """/admin/api/ always; the console at /admin/ unless `[admin] console = false`."""
    admin = Admin(gateway)
    AdminApi(admin).mount(app)
    if gateway.settings.admin.console:
        Console(admin).mount(app)
