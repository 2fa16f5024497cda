"""Segment condition ``email``: what people did with the mailings sent to them
(registered from MailingsConfig.ready()).

- ``received``: a message was delivered to them: their ledger row is ``sent`` and did
  not bounce afterwards (suppressed, failed, uncertain and cancelled rows were never
  received). With ``days``, sent in the last ``days`` × 24 hours.
- ``opened``: a *human* open — an open or a click not flagged as a machine's
  (``Event.machine``: privacy proxies such as Apple Mail Privacy Protection, security
  scanners, and anything within seconds of delivery; see ``services.is_machine``). A
  human click counts as an open: the reader saw the message with images off. With
  ``days``, the open happened in the last ``days``.
- ``clicked``: a human click on a tracked link; ``days`` as for opens.
- ``not_opened``: received at least one message (of the mailing, or sent in the last
  ``days``, or ever) and opened none of those messages, as "opened" above.

``mailing`` narrows each to one mailing. Compiles to ``pk IN (SELECT person_id …)``
without NULLs, so it is TRUE or FALSE for everyone and works inside "none of".
"""

from __future__ import annotations

import datetime

from django import forms
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.people.segments.registry import ConditionType, IdField, register
from clarion.people.segments.windows import MAX_DAYS, people_with_rows

from .models import Event, Mailing, Recipient

WHAT = [
    ("received", gettext_lazy("received")),
    ("opened", gettext_lazy("opened")),
    ("clicked", gettext_lazy("clicked a link in")),
    ("not_opened", gettext_lazy("received but never opened")),
]
HUMAN_OPENS = (Event.Kind.OPEN, Event.Kind.CLICK)


class EmailForm(forms.Form):
    what = forms.ChoiceField(choices=WHAT, initial="opened", label=gettext_lazy("What"))
    mailing = IdField(
        queryset=Mailing.objects.all(),
        # A text box, not a menu: there may be thousands of them.
        widget=forms.TextInput,
        label=gettext_lazy("Mailing (id)"),
        required=False,
        error_messages={"invalid_choice": gettext_lazy("There is no mailing with that id.")},
    )
    days = forms.IntegerField(
        label=gettext_lazy("Within the last (days)"),
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        help_text=gettext_lazy("Leave blank for any time."),
    )


def _received(params, *, using):
    rows = Recipient.objects.using(using).filter(status=Recipient.Status.SENT, bounced=False)
    if params.get("mailing") is not None:
        rows = rows.filter(mailing_id=params["mailing"].pk)
    if params.get("days"):
        rows = rows.filter(sent_at__gte=timezone.now() - datetime.timedelta(days=params["days"]))
    return rows


@register
class EmailActivity(ConditionType):
    name = "email"
    label = gettext_lazy("Email")
    Form = EmailForm

    def compile(self, params, *, using):
        what = params["what"]
        if what == "received":
            return people_with_rows(_received(params, using=using), "person_id")
        if what == "not_opened":
            received = _received(params, using=using)
            opened = received.filter(
                Exists(
                    Event.objects.using(using).filter(
                        recipient=OuterRef("pk"), kind__in=HUMAN_OPENS, machine=False
                    )
                )
            )
            return people_with_rows(received, "person_id") & ~people_with_rows(opened, "person_id")
        kinds = HUMAN_OPENS if what == "opened" else (Event.Kind.CLICK,)
        rows = Event.objects.using(using).filter(kind__in=kinds, machine=False)
        if params.get("mailing") is not None:
            rows = rows.filter(mailing_id=params["mailing"].pk)
        if params.get("days"):
            rows = rows.filter(
                created_at__gte=timezone.now() - datetime.timedelta(days=params["days"])
            )
        # ``Event.person`` is the ledger row's person, copied when the event was
        # recorded: one index (``event_human_person_idx``) answers who opened when.
        return people_with_rows(rows, "person_id")

    def to_json(self, params):
        data = {"what": params["what"]}
        if params.get("mailing") is not None:
            data["mailing"] = params["mailing"].pk
        if params.get("days"):
            data["days"] = params["days"]
        return data

    def describe(self, params):
        what = dict(WHAT)[params["what"]]
        if params.get("mailing") is not None:
            text = _("%(what)s the mailing “%(name)s”") % {
                "what": what,
                "name": params["mailing"].name,
            }
        else:
            text = _("%(what)s an email") % {"what": what}
        text = text[:1].upper() + text[1:]
        if params.get("days"):
            text += " " + _("in the last %(days)s days") % {"days": params["days"]}
        return text
