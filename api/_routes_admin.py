"""Admin routes: organisations, users, key approval, policy activation.

An admin cannot record or alter statements: no advocate route accepts the admin role.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api._access import AdminActor, AdminOrAdvocateActor, GuardedRoute, Service
from api._convert import key_public, organisation_public, user_public
from api._models import (
    InvitationPublic,
    KeyPublic,
    OrganisationCreate,
    OrganisationPublic,
    PolicyActivate,
    PolicyPublic,
    UserCreate,
    UserPublic,
)

__all__ = ["router"]

router = APIRouter(tags=["admin"], route_class=GuardedRoute)

UserId = Annotated[str, Path(min_length=1, max_length=36)]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]


@router.post("/organisations", status_code=201)
def create_organisation(body: OrganisationCreate, actor: AdminActor,
                        service: Service) -> OrganisationPublic:
    return organisation_public(service.create_organisation(actor, body.name))


@router.get("/organisations")
def list_organisations(actor: AdminActor, service: Service) -> list[OrganisationPublic]:
    return [organisation_public(o) for o in service.list_organisations(actor)]


@router.post("/users", status_code=201)
def invite_user(body: UserCreate, actor: AdminActor, service: Service) -> InvitationPublic:
    """Create a user and return their single-use enrolment invitation (shown only here)."""
    user, token = service.invite_user(actor, body.username, body.role, body.organisation_id)
    return InvitationPublic(user=user_public(user), invitation=token)


@router.get("/users")
def list_users(actor: AdminActor, service: Service) -> list[UserPublic]:
    return [user_public(u) for u in service.list_users(actor)]


@router.post("/users/{user_id}/disable")
def disable_user(user_id: UserId, actor: AdminActor, service: Service) -> UserPublic:
    """Disable an account; its sessions stop working at once."""
    return user_public(service.set_user_disabled(actor, user_id, True))


@router.post("/users/{user_id}/enable")
def enable_user(user_id: UserId, actor: AdminActor, service: Service) -> UserPublic:
    """Re-enable an account; this also lifts a second-factor lock."""
    return user_public(service.set_user_disabled(actor, user_id, False))


@router.get("/keys")
def list_keys(actor: AdminOrAdvocateActor, service: Service) -> list[KeyPublic]:
    """Admins see every key; an advocate sees their own."""
    return [key_public(k) for k in service.list_keys(actor)]


@router.post("/keys/{key_id}/approve")
def approve_key(key_id: KeyId, actor: AdminActor, service: Service) -> KeyPublic:
    return key_public(service.approve_key(actor, key_id))


@router.post("/keys/{key_id}/revoke")
def revoke_key(key_id: KeyId, actor: AdminActor, service: Service) -> KeyPublic:
    return key_public(service.revoke_key(actor, key_id))


@router.post("/policies/activate", status_code=201)
def activate_policy(body: PolicyActivate, actor: AdminActor, service: Service) -> PolicyPublic:
    policy = service.activate_policy(actor, body.document.encode("utf-8"))
    return PolicyPublic(id=policy.id, version=policy.version, sha256=policy.sha256)
