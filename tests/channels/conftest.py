"""One stack for every channel test, with the three channels pointed at the fake
providers (tests/channels/providers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.providers import FakeProviders
from tests.e2e.conftest import running_stack


@pytest.fixture(scope="package")
def fake() -> Iterator[FakeProviders]:
    providers = FakeProviders()
    providers.start()
    yield providers
    providers.stop()


@pytest.fixture(scope="package")
def channel_stack(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeProviders
) -> Iterator[dict[str, str]]:
    with running_stack(tmp_path_factory.mktemp("channels"), fake.env()) as urls:
        yield urls
