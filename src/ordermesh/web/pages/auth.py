"""Signing in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from ordermesh.domain.errors import Unauthorized
from ordermesh.services.platform import authenticate_user
from ordermesh.web.frame import WebRoute, render, safe_next
from ordermesh.web.session import end_session, start_session

router = APIRouter(route_class=WebRoute, include_in_schema=False)

WRONG = "The email or password is incorrect."
MAX_PASSWORD = 1024  # hashing a megabyte-long "password" would be an easy way to load the server


def _signed_in(request: Request) -> bool:
    return isinstance(request.session.get("uid"), int)


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/inventory" if _signed_in(request) else "/login", status_code=303)


@router.get("/login")
def login_form(
    request: Request,
    next_: Annotated[str, Query(alias="next")] = "",
    signed_out: str = "",
) -> Response:
    if _signed_in(request):
        return RedirectResponse(safe_next(next_) or "/inventory", status_code=303)
    notice = "You have signed out." if signed_out else None
    return render(request, "login.html", {"next": safe_next(next_) or "", "email": "", "error": None, "notice": notice})


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_: Annotated[str, Form(alias="next")] = "",
) -> Response:
    target = safe_next(next_)
    context = {"next": target or "", "email": email.strip()[:254], "notice": None}
    if not email.strip() or not password:
        return render(request, "login.html", {**context, "error": "Enter your email and password."}, status=400)
    try:
        if len(password) > MAX_PASSWORD:
            raise Unauthorized(WRONG)
        with request.app.state.container.uow(tenant_id=None, write=True) as uow:
            principal = authenticate_user(uow, email, password)
    except Unauthorized:
        return render(request, "login.html", {**context, "error": WRONG}, status=400)
    start_session(request, user_id=int(principal.actor.id), tenant_id=principal.tenant_id)
    return RedirectResponse(target or "/inventory", status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    end_session(request)
    return RedirectResponse("/login?signed_out=1", status_code=303)
