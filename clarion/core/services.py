from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .models import AuditEntry, User


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: REMOTE_ADDR, or behind a trusted proxy the address that
    proxy saw (the right-most X-Forwarded-For entry, which the client cannot forge)."""
    if request is None:
        return None
    from django.conf import settings

    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    actor: User | None,
    action: str,
    summary: str = "",
    object_type: str = "",
    object_id: Any = "",
    detail: dict | None = None,
    ip: str | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Append one entry to the audit log, from the client address ``ip`` (views pass
    ``client_ip(request)``). Runs inside the caller's transaction. ``request`` is the
    older way to give the address, left for ``people.imports`` until it passes ``ip``."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        summary=summary[:500],
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        detail=detail or {},
        ip_address=ip if ip is not None else client_ip(request),
    )


# --- Staff accounts and two-factor (auth part) -------------------------------------
# Imported here rather than at the top so this section stays one additive block.
from django.db import transaction  # noqa: E402
from django.utils.translation import gettext as _  # noqa: E402
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402


class StaffUserError(ValueError):
    """A change to staff accounts that would break a rule; ``str()`` is for the user."""


def _lock_active_admins() -> list[int]:
    """Lock every active admin row and return their ids.

    Two admins demoting or deactivating each other at the same moment both take
    these locks, so the second sees the first's change and the last admin stays.
    (SQLite serialises writers anyway; this matters on PostgreSQL.)
    """
    return list(
        User.objects.select_for_update()
        .filter(role=User.Role.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _area_label(area) -> str:
    return area.code if area is not None else ""


def staff_user_create(
    *,
    actor: User,
    email: str,
    name: str,
    role: str,
    area=None,
    password: str | None = None,
    ip: str | None = None,
) -> User:
    """Create a staff account; without ``password`` it has none until the user sets one.

    Sends nothing. The caller shows a one-time set-password link if it wants one.
    """
    with transaction.atomic():
        user = User.objects.create_user(
            email=email.strip().lower(), password=password, name=name, role=role, area=area
        )
        if password is None:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        audit_record(
            actor=actor,
            action=AuditEntry.Action.USER_CREATE,
            summary=f"Created {user.email} as {role}",
            object_type="user",
            object_id=user.pk,
            detail={"email": user.email, "role": role, "area": _area_label(area)},
            ip=ip,
        )
    return user


def staff_user_update(
    *,
    actor: User,
    user: User,
    name: str,
    role: str,
    area=None,
    ip: str | None = None,
) -> User:
    """Change a staff user's name, role and area; a role or area change is audited.

    Raises StaffUserError if it would leave no active admin.
    """
    with transaction.atomic():
        admin_ids = _lock_active_admins()
        current = (
            User.objects.select_for_update(of=("self",)).select_related("area").get(pk=user.pk)
        )
        before = {"role": current.role, "area": _area_label(current.area)}
        after = {"role": role, "area": _area_label(area)}
        if current.pk in admin_ids and role != User.Role.ADMIN and len(admin_ids) <= 1:
            raise StaffUserError(
                _("%(email)s is the last active admin. Make someone else an admin first.")
                % {"email": current.email}
            )
        current.name, current.role, current.area = name, role, area
        current.save(update_fields=["name", "role", "area"])
        if before != after:
            audit_record(
                actor=actor,
                action=AuditEntry.Action.ROLE_CHANGE,
                summary=f"{current.email}: {before['role']} {before['area']} -> {role} {after['area']}".strip(),
                object_type="user",
                object_id=current.pk,
                detail={"before": before, "after": after},
                ip=ip,
            )
    return current


def staff_user_set_active(*, actor: User, user: User, active: bool, ip: str | None = None) -> User:
    """Deactivate or reactivate a staff account (audited).

    A deactivated user's sessions stop working on their next request, because the
    authentication backend refuses inactive users. Nobody may deactivate themselves,
    and the last active admin cannot be deactivated.
    """
    with transaction.atomic():
        admin_ids = _lock_active_admins()
        current = User.objects.select_for_update().get(pk=user.pk)
        if current.is_active == active:
            return current
        if not active:
            if current.pk == actor.pk:
                raise StaffUserError(_("You cannot deactivate your own account."))
            if current.pk in admin_ids and len(admin_ids) <= 1:
                raise StaffUserError(
                    _("%(email)s is the last active admin and cannot be deactivated.")
                    % {"email": current.email}
                )
        current.is_active = active
        current.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action=AuditEntry.Action.USER_DEACTIVATE if not active else AuditEntry.Action.OTHER,
            summary=f"{'Reactivated' if active else 'Deactivated'} {current.email}",
            object_type="user",
            object_id=current.pk,
            detail={
                "event": "user_reactivate" if active else "user_deactivate",
                "email": current.email,
            },
            ip=ip,
        )
    return current


def staff_user_password_link_record(*, actor: User, user: User, ip: str | None = None) -> None:
    """Audit that an admin made a set-password link for ``user`` (the link is not stored)."""
    audit_record(
        actor=actor,
        action=AuditEntry.Action.OTHER,
        summary=f"Made a set-password link for {user.email}",
        object_type="user",
        object_id=user.pk,
        detail={"event": "password_link", "email": user.email},
        ip=ip,
    )


BACKUP_CODE_COUNT = 8


def two_factor_backup_codes_issue(*, user: User) -> list[str]:
    """Replace ``user``'s backup codes with fresh ones and return them (shown once)."""
    with transaction.atomic():
        device, _created = StaticDevice.objects.get_or_create(
            user=user, name="backup", defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _i in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def two_factor_confirm(*, user: User, device, ip: str | None = None) -> list[str]:
    """Mark a TOTP device confirmed (after the user typed a good code), drop any other
    TOTP devices, issue backup codes and audit it. Returns the backup codes."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = two_factor_backup_codes_issue(user=user)
        audit_record(
            actor=user,
            action=AuditEntry.Action.TWO_FACTOR,
            summary=f"{user.email} turned on two-factor",
            object_type="user",
            object_id=user.pk,
            detail={"event": "enabled"},
            ip=ip,
        )
    return codes


def two_factor_reset(*, actor: User, user: User, ip: str | None = None) -> int:
    """Remove every two-factor device of ``user`` (audited); returns how many went.

    Their sessions that passed two-factor lose that standing at once, because the
    device the session points to no longer exists.
    """
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[1].get("otp_totp.TOTPDevice", 0)
        removed += (
            StaticDevice.objects.filter(user=user).delete()[1].get("otp_static.StaticDevice", 0)
        )
        audit_record(
            actor=actor,
            action=AuditEntry.Action.TWO_FACTOR,
            summary=f"Reset two-factor for {user.email}",
            object_type="user",
            object_id=user.pk,
            detail={"event": "reset", "email": user.email, "devices_removed": removed},
            ip=ip,
        )
    return removed
