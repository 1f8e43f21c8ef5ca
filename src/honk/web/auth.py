"""Who a web request is, and who it speaks for: an API token, a session cookie (with its CSRF token
on writes), or the loopback demo's anonymous admin. Sign-in links set the session."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from honk.access import Who
from honk.accounts import ANONYMOUS, SESSION_TTL_S, Accounts, Role, User
from honk.errors import Forbidden, Unauthorized
from honk.gate import Actor, FrontDoor
from honk.settings import Settings
from honk.web import pages

SESSION_COOKIE = "honk_session"
# Over https the session cookie is `__Host-` prefixed: browsers then take it only host-only, Secure and for
# Path=/, so no page of a sibling origin (a preview, `<task>.preview.<host>`) can plant one Honk would read.
SECURE_SESSION_COOKIE = "__Host-honk_session"


def session_cookie_name(request: Request) -> str:
    return SECURE_SESSION_COOKIE if _settings(request).base_url.startswith("https://") else SESSION_COOKIE


CSRF_HEADER = "x-csrf-token"


async def user_of(request: Request) -> User:
    """Who is asking: an API token, else a session cookie (with CSRF on writes), else the demo's anonymous."""
    accounts: Accounts = request.app.state.accounts
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        user = await accounts.by_api_token(auth[7:].strip())
        if user is None:
            raise Unauthorized("That API token is not valid.")
        return user
    cookie = request.cookies.get(session_cookie_name(request))
    user = await accounts.from_session(cookie)
    if user is not None:
        if request.method not in ("GET", "HEAD") and not accounts.csrf_ok(cookie, request.headers.get(CSRF_HEADER)):
            raise Forbidden("This request is missing its CSRF token; reload the page and try again.")
        return user
    if _settings(request).access.anonymous:
        return ANONYMOUS
    raise Unauthorized(
        "Sign in first: ask an admin for a sign-in link (`honk user link EMAIL`), "
        "or send an API token (`Authorization: Bearer honk_…`)."
    )


async def need(request: Request, role: Role) -> User:
    user = await user_of(request)
    if not user.role.allows(role):
        raise Forbidden(f"{user.email} is {_a(user.role.value)}; this needs {_a(role.value)}.")
    return user


def actor(request: Request, user: User, by: str | None, header: str | None) -> Actor:
    """The demo's anonymous caller may name who it speaks for (the CLI does); people are themselves."""
    door: FrontDoor = "api"
    if request.headers.get("x-honk-client") == "cli":
        door = "cli"
    elif session_cookie_name(request) in request.cookies and not request.headers.get("authorization"):
        door = "web"
    if user is ANONYMOUS:
        name = by or header or _settings(request).access.default_user
        return Actor(who=Who(identity=name, email=name if "@" in name else None), front_door=door, role=user.role)
    return Actor(who=Who(identity=user.email, email=user.email), front_door=door, role=user.role)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/login/{token}", include_in_schema=False)
    async def login(token: str, request: Request) -> Response:
        """A one-time sign-in link: sets an HTTP-only session cookie, then goes home."""
        accounts: Accounts = request.app.state.accounts
        user = await accounts.redeem(token)
        if user is None:
            return HTMLResponse(
                pages.message(
                    "This sign-in link was already used or has expired.", "Ask for a new one: honk user link YOUR-EMAIL"
                ),
                status_code=400,
            )
        response = RedirectResponse("/", status_code=303)
        # No Domain: host-only, so it never reaches a preview's origin (a sibling name under the same host).
        response.set_cookie(
            session_cookie_name(request),
            accounts.session_cookie(user),
            max_age=SESSION_TTL_S,
            httponly=True,
            secure=_settings(request).base_url.startswith("https://"),
            samesite="lax",
        )
        return response

    @r.get("/api/me")
    async def me(request: Request) -> dict[str, str]:
        """Who this request is, and (for a browser session) the CSRF token its writes must carry."""
        user = await user_of(request)
        cookie = request.cookies.get(session_cookie_name(request))
        csrf = request.app.state.accounts.csrf_token(cookie) if cookie else ""
        return {"email": user.email, "name": user.name, "role": user.role.value, "csrf": csrf}

    return r


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"
