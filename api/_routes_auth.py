"""``/v1/auth``: password, second factor, logout, enrolment by invitation.

Routes are plain functions: FastAPI runs them in its thread pool, off the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api._access import PUBLIC, ClientAddress, Context, GuardedRoute, SignedInActor
from api._models import (
    AccessToken,
    EnrolCode,
    EnrolRequest,
    EnrolStarted,
    LoginRequest,
    MfaChallengePublic,
    RecoveryCodesPublic,
    SecondFactorRequest,
    TotpCodeRequest,
)

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"], route_class=GuardedRoute)


@router.post("/login", dependencies=[PUBLIC])
def login(body: LoginRequest, ctx: Context, address: ClientAddress) -> MfaChallengePublic:
    token = ctx.signin.login(body.username, body.password, address)
    return MfaChallengePublic(mfa_token=token)


@router.post("/totp", dependencies=[PUBLIC])
def second_factor(body: SecondFactorRequest, ctx: Context,
                  address: ClientAddress) -> AccessToken:
    """``{mfa_token, code}`` (TOTP) or ``{mfa_token, recovery_code}``: exactly one factor."""
    if isinstance(body, TotpCodeRequest):
        issued = ctx.signin.second_factor(body.mfa_token, code=body.code, recovery_code=None,
                                          address_hash=address)
    else:
        issued = ctx.signin.second_factor(body.mfa_token, code=None,
                                          recovery_code=body.recovery_code,
                                          address_hash=address)
    return AccessToken(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post("/logout", status_code=204)
def logout(_actor: SignedInActor, request: Request, ctx: Context,
                 address: ClientAddress) -> Response:
    ctx.signin.logout(request.state.token, address)
    return Response(status_code=204)


@router.post("/enroll", dependencies=[PUBLIC])
def enrol(body: EnrolRequest, ctx: Context, address: ClientAddress) -> EnrolStarted:
    started = ctx.signin.begin_enrolment(body.invitation, body.password, address)
    return EnrolStarted(username=started.username, otpauth_uri=started.otpauth_uri,
                        secret=started.secret)


@router.post("/enroll/confirm", dependencies=[PUBLIC])
def confirm_enrolment(body: EnrolCode, ctx: Context,
                            address: ClientAddress) -> RecoveryCodesPublic:
    codes = ctx.signin.confirm_enrolment(body.invitation, body.code, address)
    return RecoveryCodesPublic(recovery_codes=codes)
