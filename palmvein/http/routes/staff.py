"""Staff user administration (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Request
from pydantic import BaseModel, Field

from palmvein.core.security.roles import Role
from palmvein.core.security.users import StaffUser, create_user, get_user, list_users
from palmvein.http.auth import DbSession, Principal, app_clock, require_roles
from palmvein.http.routing import PrefixRouter

router = PrefixRouter(prefix="/staff-users", tags=["staff"])


class StaffUserOut(BaseModel):
    id: int
    username: str
    full_name: str
    roles: list[Role]
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: StaffUser) -> StaffUserOut:
        return cls(
            id=user.id,
            username=user.username,
            full_name=user.full_name,
            roles=sorted(user.roles),
            is_active=user.is_active,
            created_at=user.created_at,
        )


class StaffUserIn(BaseModel):
    username: str = Field(max_length=63)
    full_name: str = Field(max_length=200)
    password: str = Field(max_length=1024)
    roles: list[Role] = Field(min_length=1)


@router.get("")
def staff_users(
    principal: Annotated[Principal, require_roles(Role.ADMIN)], session: DbSession
) -> list[StaffUserOut]:
    return [StaffUserOut.of(user) for user in list_users(session)]


@router.get("/{user_id}")
def staff_user(
    user_id: int,
    principal: Annotated[Principal, require_roles(Role.ADMIN)],
    session: DbSession,
) -> StaffUserOut:
    return StaffUserOut.of(get_user(session, user_id))


@router.post("", status_code=201)
def add_staff_user(
    body: StaffUserIn,
    request: Request,
    principal: Annotated[Principal, require_roles(Role.ADMIN)],
    session: DbSession,
) -> StaffUserOut:
    user = create_user(
        session,
        username=body.username,
        full_name=body.full_name,
        password=body.password,
        roles=frozenset(body.roles),
        actor=principal.actor,
        now=app_clock(request)(),
    )
    return StaffUserOut.of(user)
