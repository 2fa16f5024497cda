"""``clarion api_key create --email STAFF_EMAIL [--read-only] [--area CODE] [--name N]``
prints the new token alone on its last line; ``clarion api_key revoke PREFIX`` revokes;
``clarion api_key list`` shows keys (never tokens)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clarion.api.models import ApiKey
from clarion.api.services import api_key_create, api_key_revoke
from clarion.areas.models import Area
from clarion.core.models import User


class Command(BaseCommand):
    help = "Create, revoke or list API keys for the Action Network–compatible API."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a key; prints the token on the last line.")
        create.add_argument("--email", required=True, help="The staff user the key acts as.")
        create.add_argument("--read-only", action="store_true", help="The key may only read.")
        create.add_argument(
            "--area", help="Limit the key to this area code (inside the owner's area)."
        )
        create.add_argument("--name", default="", help="What the key is for.")
        create.add_argument(
            "--resource",
            action="append",
            choices=ApiKey.Resource.values,
            help="Allow only this resource (repeat for several; default all).",
        )
        revoke = sub.add_parser("revoke", help="Revoke the key with this prefix.")
        revoke.add_argument("prefix")
        sub.add_parser("list", help="List keys.")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "create":
            owner = User.objects.filter(email__iexact=options["email"].strip()).first()
            if owner is None:
                raise CommandError(f"No staff user has the email {options['email']}.")
            area = None
            if options.get("area"):
                area = Area.objects.filter(code=options["area"]).first()
                if area is None:
                    raise CommandError(f"No area has the code {options['area']}.")
            try:
                key, token = api_key_create(
                    owner=owner,
                    actor=None,
                    area=area,
                    name=options["name"],
                    scope=ApiKey.Scope.READ if options["read_only"] else ApiKey.Scope.WRITE,
                    resources=options.get("resource") or (),
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
            self.stdout.write(
                f"Created {key.get_scope_display().lower()} key {key.prefix} for {owner.email}"
                + (f", limited to {area.code}" if area else "")
                + ". It is shown only once:"
            )
            self.stdout.write(token)
        elif action == "revoke":
            key = ApiKey.objects.filter(prefix=options["prefix"].strip().rstrip(".…")).first()
            if key is None:
                raise CommandError(f"No key has the prefix {options['prefix']}.")
            if api_key_revoke(key=key, actor=None):
                self.stdout.write(f"Revoked key {key.prefix}.")
            else:
                self.stdout.write(f"Key {key.prefix} was already revoked.")
        else:
            for key in ApiKey.objects.select_related("owner", "area"):
                state = "revoked" if key.revoked_at else "active"
                self.stdout.write(
                    f"{key.prefix}\t{key.owner.email}\t{key.scope}\t"
                    f"{key.area.code if key.area else '-'}\t{state}\t{key.name}"
                )
