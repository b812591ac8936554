"""Signing in and out, changing the password, and the messages on every failure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from aiohttp.test_utils import TestClient

from ..server.helpers import PASSWORD, FakeClock
from .pages import Reader, reader_for


async def _fresh(new_client: Callable[[], Awaitable[TestClient]], language: str = "en") -> Reader:
    reader = Reader(await new_client())
    await reader.post("/language", {"language": language, "next": "/login"}, token=False)
    return reader


async def test_wrong_password_then_throttled_then_right(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user("anna")
    reader = await _fresh(new_client)
    html = await reader.post("/login", {"username": "anna", "password": "nope"}, 401)
    assert "Wrong username or password." in html and 'value="anna"' in html
    for _ in range(4):
        await reader.post("/login", {"username": "anna", "password": "nope"}, 401)
    html = await reader.post("/login", {"username": "anna", "password": PASSWORD}, 429)
    assert "Too many failed sign-ins. Try again in 15 minutes." in html
    assert "Traceback" not in html


async def test_empty_form_says_what_to_fill_in(
    new_client: Callable[[], Awaitable[TestClient]],
) -> None:
    reader = await _fresh(new_client, "nl")
    html = await reader.post("/login", {"username": "", "password": ""}, 400)
    assert "Vul je gebruikersnaam en wachtwoord in." in html


async def test_expired_session_goes_back_to_sign_in_with_a_message(
    new_client: Callable[[], Awaitable[TestClient]],
    make_user: Callable[..., dict[str, Any]],
    clock: FakeClock,
) -> None:
    make_user("anna")
    reader = await reader_for(await new_client(), "anna")
    await reader.get("/library")
    clock.advance(hours=3)  # past the 120-minute idle limit
    response = await reader.client.get("/library", allow_redirects=False)
    assert response.status == 303
    assert unquote(response.headers["Location"]) == "/login?next=/library&reason=expired"
    html = await reader.get(response.headers["Location"])
    assert "Je sessie is verlopen. Meld je opnieuw aan." in html
    # Signing in again lands where she was going.
    response = await reader.client.post(
        "/login",
        data={"username": "anna", "password": PASSWORD, "next": "/library"},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/library"


async def test_next_never_leaves_the_site(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user("anna")
    client = await new_client()
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = await client.post(
            "/login",
            data={"username": "anna", "password": PASSWORD, "next": target},
            allow_redirects=False,
        )
        assert response.headers["Location"] == "/library", target


async def test_sign_out_ends_the_session(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user("anna")
    reader = await reader_for(await new_client(), "anna")
    await reader.get("/library")
    html = await reader.post("/logout", {})
    assert "Je bent afgemeld." in html
    response = await reader.client.get("/library", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login")


async def test_a_form_without_its_token_is_refused_with_a_page(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user("anna")
    reader = await reader_for(await new_client(), "anna")
    await reader.get("/library")
    html = await reader.post("/logout", {}, 403, token=False)
    assert "Dit formulier is verlopen." in html and "<html" in html
    response = await reader.client.post(
        "/logout", data={"csrf_token": reader.csrf}, headers={"Origin": "https://evil.example"}
    )
    assert response.status == 403
    assert "Verzoeken van andere sites worden niet aangenomen." in await response.text()


async def test_change_password(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user("anna")
    other_device = await reader_for(await new_client(), "anna")
    reader = await reader_for(await new_client(), "anna")
    await reader.get("/account/password")
    form = {"current": "wrong", "new": "a new long password", "repeat": "a new long password"}
    assert "Je huidige wachtwoord klopt niet." in await reader.post("/account/password", form, 400)
    form["current"] = PASSWORD
    form["repeat"] = "something else entirely"
    assert "De twee nieuwe wachtwoorden verschillen." in await reader.post(
        "/account/password", form, 400
    )
    form.update(new="short", repeat="short")
    assert "minstens 10 tekens" in await reader.post("/account/password", form, 400)
    form.update(new="a new long password", repeat="a new long password")
    html = await reader.post("/account/password", form)
    assert "Je wachtwoord is gewijzigd." in html
    await reader.get("/library")  # this browser got a fresh session
    response = await other_device.client.get("/library", allow_redirects=False)
    assert response.status == 303  # the other device was signed out
    await reader_for(await new_client(), "anna", "a new long password")


async def test_the_default_language_comes_from_the_config(
    aiohttp_server: Any, clock: FakeClock, tmp_path: Any
) -> None:
    from lessoncam_server.app import init_app
    from lessoncam_server.config import parse_config

    config = parse_config(
        {"storage": {"data_dir": str(tmp_path / "d")}, "web": {"default_language": "en"}}
    )
    server = await aiohttp_server(init_app(config, clock=clock))
    client = TestClient(server)
    await client.start_server()
    try:
        html = await (await client.get("/login")).text()
        assert '<html lang="en">' in html and "Sign in" in html
        await client.post("/language", data={"language": "nl", "next": "/login"})
        html = await (await client.get("/login")).text()
        assert '<html lang="nl">' in html and "Aanmelden" in html
    finally:
        await client.close()
