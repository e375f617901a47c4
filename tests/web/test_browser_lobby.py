"""The lobby page in a real headless Chromium against a real hub (issue #5): the lobby, spectating,
challenges and the queue, with scripted players on the other side."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.web.browserkit import (
    DASH,
    LOSER,
    WINNER,
    StartHub,
    challenge_accepted,
    fits_sideways,
    play_round,
    round_row,
    sign_up,
)
from tests.web.conftest import Join, OpenPage, Scripted, hub_url, screenshot_path

pytestmark = pytest.mark.browser


async def test_a_spectator_sees_each_round_of_a_game_between_two_scripted_players(
    start_hub: StartHub, open_page: OpenPage, scripted: Join
) -> None:
    server = await start_hub()
    alice = await scripted(server, "alice")
    bob = await scripted(server, "bob")
    page = await open_page(hub_url(server))
    game_id = await challenge_accepted(alice, bob)

    await page.locator(f"#live-games li[data-game='{game_id}'] a").click()
    await expect(page.get_by_role("heading", name="alice vs bob")).to_be_visible()
    await expect(page.locator("#rounds-empty")).to_be_visible()
    await expect(page.locator("#move-panel")).to_be_hidden()

    await alice.request("move", game=game_id, roll="Rock", round=1)
    await expect(page.locator("[data-seat='alice'] .moved")).to_have_text("has moved")
    await bob.request("move", game=game_id, roll="Rock", round=1)
    await expect(round_row(page, 1)).to_have_text(re.compile(r"1\s*Rock\s*Rock\s*tie"))
    await expect(page.locator("[data-seat='alice'] .moved")).to_have_count(0)

    await play_round(game_id, (alice, WINNER), (bob, LOSER), 2)
    await expect(round_row(page, 2)).to_have_text(re.compile(rf"2\s*{WINNER}\s*{LOSER}\s*alice"))
    await expect(page.locator("[data-seat='alice'] .seat-score")).to_have_text("1")
    await expect(page.locator("#round-result")).to_contain_text("alice wins the round")

    await play_round(game_id, (bob, LOSER), (alice, WINNER), 3)
    await expect(round_row(page, 3)).to_have_text(re.compile(rf"3\s*{WINNER}\s*{LOSER}\s*alice"))
    await expect(page.locator("#game-state")).to_have_text(f"Finished: alice won, 2{DASH}0.")
    await expect(page.locator("[data-seat='alice']")).to_have_class(re.compile(r"\bwinner\b"))
    await expect(page.locator("#rounds tbody tr")).to_have_count(3)


async def test_the_lobby_shows_the_score_of_a_live_game_after_each_round(
    start_hub: StartHub, open_page: OpenPage, scripted: Join
) -> None:
    server = await start_hub()
    alice = await scripted(server, "alice")
    bob = await scripted(server, "bob")
    page = await open_page(hub_url(server))
    game_id = await challenge_accepted(alice, bob, best_of=5)
    live = page.locator(f"#live-games li[data-game='{game_id}']")
    await expect(live).to_contain_text(f"alice0{DASH}0bob")

    await play_round(game_id, (alice, WINNER), (bob, LOSER), 1)
    await expect(live).to_contain_text(f"alice1{DASH}0bob")
    await expect(live).to_contain_text("round 2")
    await play_round(game_id, (alice, LOSER), (bob, WINNER), 2)
    await expect(live).to_contain_text(f"alice1{DASH}1bob")


async def test_the_lobby_list_changes_when_a_scripted_player_connects_and_disconnects(
    start_hub: StartHub, open_page: OpenPage
) -> None:
    server = await start_hub(grace=0.2)
    page = await open_page(hub_url(server))
    await expect(page.locator("#players-empty")).to_be_visible()
    carol_row = page.locator("#players li[data-player='carol']")

    carol = await Scripted.join(server, "carol")
    await expect(carol_row).to_contain_text("carol")
    await expect(carol_row.locator(".status")).to_have_text("idle")
    await expect(page.locator("#players-empty")).to_be_hidden()

    await carol.request("play", opponent="computer")
    await expect(carol_row.locator(".status")).to_have_text("playing")

    await carol.close()
    await expect(carol_row).to_have_count(0)
    await expect(page.locator("#players-empty")).to_be_visible()


async def test_a_player_accepts_a_challenge_and_wins_by_clicking(
    start_hub: StartHub, open_page: OpenPage, scripted: Join
) -> None:
    server = await start_hub(round_deadline=30)
    bob = await scripted(server, "bob")
    page = await open_page(hub_url(server), width=375, height=740)
    await sign_up(page, "alice")

    await bob.request("play", opponent="alice", best_of=1)
    offer = page.locator("#challenges li")
    await expect(offer).to_contain_text("bob challenges you: rps15, best of 1")
    await page.get_by_role("button", name="Accept the challenge from bob").click()
    started = await bob.event("game_started")
    game_id = started["id"]

    await expect(page.get_by_role("heading", name="bob vs alice")).to_be_visible()
    await expect(page).to_have_url(re.compile(rf"#/game/{game_id}$"))
    await bob.request("move", game=game_id, roll=LOSER, round=1)
    await expect(page.locator("[data-seat='bob'] .moved")).to_be_visible()
    await page.locator(f"#rolls button[data-roll='{WINNER}']").click()  # picks it
    await page.get_by_role("button", name=f"Play {WINNER}", exact=True).click()
    await expect(round_row(page, 1)).to_have_text(re.compile(rf"1\s*{LOSER}\s*{WINNER}\s*alice"))
    await expect(page.locator("#game-state")).to_have_text(f"Finished: alice won, 0{DASH}1.")
    await expect(page.locator("#round-result")).to_contain_text("you win the round")
    assert await fits_sideways(page), "the game view needs no sideways scrolling on a phone"
    await page.screenshot(path=screenshot_path("game-phone.png"), full_page=True)


async def test_a_player_declines_a_challenge(
    start_hub: StartHub, open_page: OpenPage, scripted: Join
) -> None:
    server = await start_hub()
    bob = await scripted(server, "bob")
    page = await open_page(hub_url(server))
    await sign_up(page, "alice")
    offer = await bob.request("play", opponent="alice")
    await page.get_by_role("button", name="Decline the challenge from bob").click()
    declined = await bob.event("challenge_declined")
    assert declined == {"id": offer["challenge"], "by": "alice"}
    await expect(page.locator("#challenges li")).to_have_count(0)


async def test_clicking_a_player_challenges_them(
    start_hub: StartHub, open_page: OpenPage, scripted: Join
) -> None:
    server = await start_hub()
    bob = await scripted(server, "bob")
    page = await open_page(hub_url(server))
    await sign_up(page, "alice")
    await page.get_by_label("Rules").select_option("rpsls")
    await page.get_by_role("button", name="Challenge bob (idle)").click()
    challenge = await bob.event("challenge")
    assert (challenge["from"], challenge["rules"], challenge["best_of"]) == ("alice", "rpsls", 5)
    await expect(page.locator("#play-status")).to_contain_text("Challenge sent to bob")

    await bob.request("decline", challenge=challenge["id"])
    await expect(page.locator("#play-status")).to_have_text("bob declined your challenge.")


async def test_two_players_in_the_queue_are_matched(
    start_hub: StartHub, open_page: OpenPage, scripted: Join
) -> None:
    server = await start_hub()
    bob = await scripted(server, "bob")
    page = await open_page(hub_url(server))
    await sign_up(page, "alice")
    await page.get_by_role("button", name="Join the queue").click()
    await expect(page.locator("#play-status")).to_contain_text("Waiting in the queue")
    await expect(page.locator("#players li[data-player='alice'] .status")).to_have_text("queued")

    await bob.request("play", opponent="*", best_of=5)
    await expect(page.get_by_role("heading", name="alice vs bob")).to_be_visible()


async def test_the_lobby_shows_players_live_games_leaders_and_recent_games(
    start_hub: StartHub, open_page: OpenPage, scripted: Join
) -> None:
    server = await start_hub()
    alice = await scripted(server, "alice")
    bob = await scripted(server, "bob")
    carol = await scripted(server, "carol")
    dave = await scripted(server, "dave")
    finished = await challenge_accepted(alice, bob, best_of=1)
    await play_round(finished, (alice, WINNER), (bob, LOSER), 1)
    live = await challenge_accepted(carol, alice, best_of=5)
    await play_round(live, (carol, WINNER), (alice, LOSER), 1)
    await dave.request("play", opponent="*", best_of=3)

    page = await open_page(hub_url(server))
    await sign_up(page, "erin")
    await expect(page.locator("#players li")).to_have_count(5)
    await expect(page.locator("#players li[data-player='dave'] .status")).to_have_text("queued")
    await expect(page.locator("#players li[data-player='carol'] .status")).to_have_text("playing")
    await expect(page.locator(f"#live-games li[data-game='{live}']")).to_contain_text(
        f"carol1{DASH}0alice"
    )
    await expect(page.locator("#leaderboard tbody tr").first).to_have_text(
        re.compile(r"1\s*alice\s*1\s*1")
    )
    await expect(page.locator(f"#recent-games a[href='#/game/{finished}']")).to_contain_text(
        "alice won"
    )
    await page.screenshot(path=screenshot_path("lobby.png"), full_page=True)

    await page.set_viewport_size({"width": 375, "height": 740})
    await expect(page.get_by_role("button", name="Play the computer")).to_be_in_viewport()
    assert await fits_sideways(page), "the lobby needs no sideways scrolling on a phone"
    await page.screenshot(path=screenshot_path("lobby-phone.png"), full_page=True)

    await page.locator(f"#recent-games a[href='#/game/{finished}']").click()
    await expect(round_row(page, 1)).to_have_text(re.compile(rf"1\s*{WINNER}\s*{LOSER}\s*alice"))


async def test_a_reloaded_page_still_shows_that_its_player_is_queued(
    start_hub: StartHub, open_page: OpenPage
) -> None:
    server = await start_hub(grace=5)
    page = await open_page(hub_url(server))
    await sign_up(page, "alice")
    await page.get_by_role("button", name="Join the queue").click()
    await expect(page.locator("#play-status")).to_contain_text("Waiting in the queue")
    await page.reload()
    await expect(page.locator("#play-status")).to_contain_text("Waiting in the queue")
    await page.get_by_role("button", name="Leave the queue").click()
    await expect(page.locator("#players li[data-player='alice'] .status")).to_have_text("idle")
    await expect(page.get_by_role("button", name="Join the queue")).to_be_enabled()


async def test_a_challenge_sent_while_the_page_was_away_is_shown_when_it_returns(
    start_hub: StartHub, open_page: OpenPage, scripted: Join
) -> None:
    server = await start_hub(grace=5)
    bob = await scripted(server, "bob")
    page = await open_page(hub_url(server))
    await sign_up(page, "alice")
    await page.goto("about:blank")
    await bob.request("play", opponent="alice", best_of=7)
    await page.goto(hub_url(server))
    await expect(page.locator("#challenges li")).to_contain_text(
        "bob challenges you: rps15, best of 7"
    )
