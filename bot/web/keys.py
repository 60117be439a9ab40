"""Typed keys of what the app factory stores on the application."""

from __future__ import annotations

from aiohttp import web
from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import sessionmaker

from bot.clock import Clock
from bot.crypto import DocumentCipher
from bot.mailer import Mailer
from bot.rasa_client import RasaClient
from bot.services.accounts import Policy
from bot.services.agents import LoginPolicy
from bot.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)  # type: ignore[arg-type]
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", sessionmaker)
MAILER = web.AppKey("mailer", Mailer)
POLICY = web.AppKey("policy", Policy)
PAGES = web.AppKey("pages", Environment)
CIPHER = web.AppKey("cipher", DocumentCipher)
RASA = web.AppKey("rasa", RasaClient)
LOGIN_POLICY = web.AppKey("login_policy", LoginPolicy)
