"""Every route of the web process, in one place."""

from __future__ import annotations

from aiohttp import web

from bot.metrics import metrics_endpoint
from bot.web import agent_auth, api, console, pages, uploads


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", pages.home)
    app.router.add_get("/health", pages.health)
    app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_get("/cgu", pages.cgu)
    app.router.add_get("/activate/{token}", pages.activation_page)
    app.router.add_post("/activate/{token}", pages.activate)
    app.router.add_get("/widget/{path:.+}", pages.widget_file)
    app.router.add_get("/api/v1/openapi.yaml", pages.openapi)
    app.router.add_post("/api/v1/companies/verify", api.verify_company)
    app.router.add_post("/api/v1/emails/check", api.check_email)
    app.router.add_post("/api/v1/registrations", api.create_registration)
    app.router.add_post("/api/v1/activations/resend", api.resend_activation)
    app.router.add_post("/api/v1/documents", api.create_document)
    app.router.add_delete("/api/v1/documents/{reference}", api.delete_document)
    app.router.add_post("/api/v1/conversations/erase", api.erase_conversation)
    app.router.add_post("/uploads", uploads.create_upload)
    app.router.add_get("/uploads/{token}", uploads.read_upload)
    app.router.add_delete("/uploads/{token}", uploads.delete_upload)
    app.router.add_post("/api/v1/handoffs", api.create_handoff)
    app.router.add_post("/api/v1/handoffs/leave", api.leave_handoff_queue)
    app.router.add_post("/api/v1/feedback", api.record_feedback)
    # The agent console: pages, then the JSON API behind them.
    app.router.add_get("/agent/login", agent_auth.login_page)
    app.router.add_post("/agent/login", agent_auth.log_in)
    app.router.add_post("/agent/logout", agent_auth.log_out)
    app.router.add_get("/agent", console.queue_page)
    app.router.add_get("/agent/console.js", console.console_script)
    app.router.add_get("/agent/handoffs/{reference}", console.handoff_page)
    app.router.add_get("/agent/api/queue", console.queue_json)
    app.router.add_get("/agent/api/handoffs/{reference}", console.handoff_detail_json)
    app.router.add_post("/agent/api/handoffs/{reference}/take", console.take)
    app.router.add_post("/agent/api/handoffs/{reference}/reply", console.reply)
    app.router.add_post("/agent/api/handoffs/{reference}/handback", console.hand_back)
    app.router.add_post("/agent/api/handoffs/{reference}/close", console.close)
