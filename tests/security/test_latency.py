"""A conversation that replays an expensive image does not slow down the others."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from tests.security.helpers import PEOPLE, Stack, WebClient, median_turn_seconds, new_client_address
from tests.security.hostile import expensive_png

TURNS = 5
RATIO = 1.5
# Below a quarter of a second the ratio is noise on a shared machine.
SLACK = 0.25


async def test_a_bystander_is_not_slowed_down_by_an_expensive_image(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    attacker = WebClient(stack, http)
    await attacker.walk(PEOPLE["web"].steps())
    await attacker.say('/inform{"document_type":"cni"}')
    image = expensive_png()
    answers: list[str] = []

    async def replay() -> None:
        while True:
            # A new address each time, as an attacker with many would: the upload store's
            # own limit is not what is measured here.
            status, attachment = await attacker.upload(
                image, "carte.png", "image/png", address=new_client_address()
            )
            if status != 201:
                await asyncio.sleep(0.2)
                continue
            answers.append(await attacker.text("/send_document", {"attachments": [attachment]}))

    def bystander() -> WebClient:
        return WebClient(stack, http)

    await median_turn_seconds(bystander, 2)  # warm up
    normal = await median_turn_seconds(bystander, TURNS)
    load = asyncio.create_task(replay())
    try:
        await asyncio.sleep(1.0)
        loaded = await median_turn_seconds(bystander, TURNS)
    finally:
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
    assert answers, "the expensive image was never answered during the measure"
    assert all(answer.strip() for answer in answers)
    assert loaded <= max(RATIO * normal, normal + SLACK), (
        f"bystander median {loaded:.2f} s under load against {normal:.2f} s"
    )
