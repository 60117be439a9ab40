"""Every route of the web process, in one place."""

from __future__ import annotations

from aiohttp import web

from bot.web import api, pages, uploads


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", pages.home)
    app.router.add_get("/health", pages.health)
    app.router.add_get("/cgu", pages.cgu)
    app.router.add_get("/activate/{token}", pages.activate)
    app.router.add_get("/widget/{path:.+}", pages.widget_file)
    app.router.add_get("/api/v1/openapi.yaml", pages.openapi)
    app.router.add_post("/api/v1/companies/verify", api.verify_company)
    app.router.add_post("/api/v1/emails/check", api.check_email)
    app.router.add_post("/api/v1/registrations", api.create_registration)
    app.router.add_post("/api/v1/activations/resend", api.resend_activation)
    app.router.add_post("/api/v1/documents", api.create_document)
    app.router.add_delete("/api/v1/documents/{reference}", api.delete_document)
    app.router.add_post("/uploads", uploads.create_upload)
    app.router.add_get("/uploads/{token}", uploads.read_upload)
    app.router.add_delete("/uploads/{token}", uploads.delete_upload)
