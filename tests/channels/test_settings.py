"""Without settings a channel stays disabled; with them, the action server admits
exactly its provider's media hosts (no stack needed)."""

from __future__ import annotations

import pytest

from actions.clients.attachments import AttachmentFetcher, provider_origins
from channels.messenger import MessengerInput
from channels.telegram import TelegramInput
from channels.twilio import TwilioInput

SETTINGS = (
    "TELEGRAM_TOKEN",
    "TELEGRAM_SECRET_TOKEN",
    "TELEGRAM_API_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_WHATSAPP_NUMBER",
    "TWILIO_API_URL",
    "TWILIO_MEDIA_ORIGINS",
    "MESSENGER_VERIFY_TOKEN",
    "MESSENGER_APP_SECRET",
    "MESSENGER_PAGE_ACCESS_TOKEN",
    "MESSENGER_MEDIA_ORIGINS",
)
SID = "AC" + "0" * 32
PRODUCTION = {
    "TELEGRAM_TOKEN": "123:abc",
    "TWILIO_ACCOUNT_SID": SID,
    "TWILIO_AUTH_TOKEN": "twilio-token",
    "MESSENGER_PAGE_ACCESS_TOKEN": "page-token",
}


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("channel", [TelegramInput, TwilioInput, MessengerInput])
def test_a_channel_without_settings_is_disabled(
    channel: type[TelegramInput | TwilioInput | MessengerInput], no_settings: None
) -> None:
    assert channel.from_credentials(None).enabled is False


def test_settings_come_from_credentials_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, no_settings: None
) -> None:
    monkeypatch.setenv("TELEGRAM_TOKEN", "123:abc")
    assert TelegramInput.from_credentials(None).enabled is False  # no secret: refuse all
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", "s3cret")
    assert TelegramInput.from_credentials(None).enabled is True
    channel = TwilioInput.from_credentials(
        {"account_sid": SID, "auth_token": "t", "twilio_number": "whatsapp:+14155238886"}
    )
    assert channel.enabled is True


def test_no_provider_host_is_admitted_when_no_channel_is_configured() -> None:
    assert provider_origins({}) == {}


@pytest.mark.parametrize(
    ("url", "admitted"),
    [
        ("https://api.telegram.org/file/bot123:abc/photos/file_1.jpg", True),
        ("https://api.telegram.org/file/bot999:other/photos/file_1.jpg", False),
        ("https://api.telegram.org/bot123:abc/getMe", False),
        ("https://api.telegram.org/file/bot123:abc/../../bot123:abc/getMe", False),
        ("https://api.telegram.org/file/bot123:abc/%2e%2e/%2e%2e/bot123:abc/getMe", False),
        (f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages/MM1/Media/ME1", True),
        ("https://api.twilio.com/2010-04-01/Accounts/ACffff/Messages/MM1/Media/ME1", False),
        ("https://mms.twiliocdn.com/AC0/abc?Expires=1", True),
        ("https://scontent-cdg4-1.xx.fbcdn.net/v/t1.1/123_n.jpg?oh=1", True),
        ("https://cdn.fbsbx.com/v/t59.2708-21/cni.pdf?_nc_cat=1", True),
        ("http://scontent.xx.fbcdn.net/v/123_n.jpg", False),
        ("https://fbcdn.net.attacker.example/v/123_n.jpg", False),
        ("https://attackerfbcdn.net/v/123_n.jpg", False),
        ("https://scontent.xx.fbcdn.net:8443/v/123_n.jpg", False),
    ],
)
def test_exactly_the_providers_media_hosts_are_admitted(url: str, admitted: bool) -> None:
    fetcher = AttachmentFetcher(provider_origins(PRODUCTION), max_bytes=1000)
    assert fetcher.allows(url) is admitted


def test_twilio_media_need_the_account_credentials_and_the_store_gets_none() -> None:
    origins = provider_origins(PRODUCTION)
    api = origins["https://api.twilio.com"]
    assert api.headers["Authorization"].startswith("Basic ") and api.follow_redirects
    assert origins["https://mms.twiliocdn.com"].headers == {}
    assert not origins["https://mms.twiliocdn.com"].follow_redirects
