"""One whole stack for the security suite (started from the Procfile, as `make run`
does), with the messaging channels pointed at the fake providers of tests/channels, and
the victims whose conversations the attacks aim at."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.channels.providers import FakeProviders
from tests.e2e import conftest as e2e
from tests.e2e.conftest import running_stack
from tests.security.helpers import Stack, Victims, prepare_victims

# Five helpers share two cores: loading the model alone can take minutes.
e2e.STARTUP_TIMEOUT = max(e2e.STARTUP_TIMEOUT, 600)

RASA_TOKEN = "sec-rasa-" + secrets.token_hex(16)
ACTION_SERVER_TOKEN = "sec-actions-" + secrets.token_hex(16)


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeProviders]:
    providers = FakeProviders()
    providers.start()
    yield providers
    providers.stop()


@pytest.fixture(scope="session")
def security_stack(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeProviders
) -> Iterator[Stack]:
    """The stack, its tokens given explicitly; loopback is the trusted reverse proxy, so
    that each scenario plays its own clients with X-Forwarded-For."""
    extra_env = {
        **fake.env(),
        "RASA_TOKEN": RASA_TOKEN,
        "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
        "TRUSTED_PROXIES": "127.0.0.1",
        # The throttle scenarios play the default limit, not the shared e2e stack's.
        "UPLOAD_MAX_PER_ADDRESS": "30",
    }
    with running_stack(tmp_path_factory.mktemp("security"), extra_env) as urls:
        yield Stack(urls, RASA_TOKEN, ACTION_SERVER_TOKEN, account_token="e2e-token")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def victims(security_stack: Stack, fake: FakeProviders) -> Victims:
    """A web user and one user per messaging app, each stopped at the document step
    after giving every personal detail (prepared once: the attacks must not change them)."""
    return prepare_victims(security_stack, fake)


@pytest.fixture
async def stack(security_stack: Stack, http: aiohttp.ClientSession) -> AsyncIterator[Stack]:
    """The stack for one scenario: afterwards it still answers a greeting normally and
    no process logged a personal value or a token."""
    yield security_stack
    await security_stack.assert_healthy(http)
    security_stack.assert_no_leak()
