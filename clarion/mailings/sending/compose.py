"""A mailing compiled once per sender: per-variant templates, headers fixed for the
whole mailing, and ``message()`` that turns one ledger row and its merge fields into
signed message bytes."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.db.models import Count

from clarion.core.site import is_own_url, own_url_on_site, site_url

from . import mime, render, tokens


@dataclass
class CompiledVariant:
    index: int
    subject: object | None  # a template, when the subject has merge fields
    subject_header: str  # the encoded subject when it has none
    from_header: str
    body: render.CompiledBody


def variant_sources(mailing) -> list[dict]:
    """Subject, from name and body of each variant (blank variant fields inherit)."""
    base = {"subject": mailing.subject, "from_name": mailing.from_name, "body": mailing.body}
    if not mailing.is_ab:
        return [base]
    by_index = {v.index: v for v in mailing.variants.all()}
    out = []
    for i in range(mailing.ab_variants):
        v = by_index.get(i)
        out.append(
            {
                "subject": (v.subject if v and v.subject else base["subject"]),
                "from_name": (v.from_name if v and v.from_name else base["from_name"]),
                "body": (v.body if v and v.body else base["body"]),
            }
        )
    return out


class CompiledMailing:
    def __init__(self, mailing):
        self.mailing = mailing
        self.links: list[str] = []
        self.variants: list[CompiledVariant] = []
        sources = variant_sources(mailing)
        every = " ".join(s["body"] + s["subject"] for s in sources) + mailing.preheader
        self.segment_names = render.segment_names(every)
        flags = {name: i for i, name in enumerate(self.segment_names)}
        self._members: list[set[int]] | None = None
        preheader = render.rewrite_segments(mailing.preheader, flags)
        for index, src in enumerate(sources):
            body = render.compile_body(
                render.rewrite_segments(src["body"], flags),
                mailing.body_format,
                preheader=preheader,
                known_links=self.links,
            )
            subject_src = render.rewrite_segments(src["subject"], flags)
            subject_tpl = render.compile_subject(subject_src) if "{" in subject_src else None
            self.variants.append(
                CompiledVariant(
                    index=index,
                    subject=subject_tpl,
                    subject_header=mime.encode_header(src["subject"])
                    if subject_tpl is None
                    else "",
                    from_header=mime.address(src["from_name"], mailing.from_email),
                    body=body,
                )
            )
        self.needs_recruits = render.uses(every, "recruit_count")
        self.needs_gift = render.uses(every, "last_gift")
        self.site = site_url()
        self.verp_domain = settings.CLARION_MAILINGS_VERP_DOMAIN
        self.msgid_domain = parseaddr(mailing.from_email)[1].rpartition("@")[2] or "localhost"
        self.reply_to = mailing.reply_to
        self.list_id = f"<{mailing.category}.{self.verp_domain}>"
        self.share_base = self._share_base()
        self.dkim = mime.dkim_signer()

    def _share_base(self) -> str:
        # The first link to an action page, moved onto the site's address in case it
        # was written while the site ran on another port or scheme.
        for url in self.links:
            if is_own_url(url) and urlsplit(url).path.startswith("/act/"):
                return own_url_on_site(url.split("?", 1)[0].split("#", 1)[0])
        return f"{self.site}/"

    # --- merge fields -------------------------------------------------------------

    def _segment_people(self):
        """Querysets of the people in each ``if_segment`` segment, as the sender (or
        author) of the mailing may see them; a name they cannot see matches nobody."""
        from clarion.people.models import Person
        from clarion.people.segments.selectors import segment_people
        from clarion.people.selectors import segments_for

        user = self.mailing.sent_by or self.mailing.created_by
        found = {}
        if user is not None:
            found = {s.name: s for s in segments_for(user).filter(name__in=self.segment_names)}
        return [
            segment_people(user, found[name]) if name in found else Person.objects.none()
            for name in self.segment_names
        ]

    def segment_flags(self, person_ids: list[int]) -> dict[int, dict[str, bool]]:
        """``segment_<n>`` flags per person. Once the ledger is frozen, membership is
        computed once for the whole mailing (one query per segment, kept for every
        later batch); before that (preview, test send) only for ``person_ids``."""
        if not self.segment_names:
            return {}
        if self.mailing.frozen_at is not None:
            if self._members is None:
                from clarion.mailings.models import Recipient

                ledger = Recipient.objects.filter(mailing_id=self.mailing.pk).values("person_id")
                self._members = [
                    set(qs.filter(pk__in=ledger).values_list("pk", flat=True))
                    for qs in self._segment_people()
                ]
            members = self._members
        else:
            members = [
                set(qs.filter(pk__in=person_ids).values_list("pk", flat=True))
                for qs in self._segment_people()
            ]
        return {
            pid: {f"segment_{i}": pid in m for i, m in enumerate(members)} for pid in person_ids
        }

    def contexts(self, person_ids: list[int]) -> dict[int, dict]:
        """Merge fields for each person, in a handful of queries for the whole batch."""
        from clarion.people.models import Person

        rows = Person.objects.filter(pk__in=person_ids).values(
            "pk", "first_name", "last_name", "email", "area__name", "share_code"
        )
        out = {}
        for row in rows:
            code = row["share_code"]
            out[row["pk"]] = {
                "first_name": row["first_name"],
                "last_name": row["last_name"],
                "full_name": f"{row['first_name']} {row['last_name']}".strip(),
                "email": row["email"] or "",
                "area": row["area__name"] or "",
                "share_link": f"{self.share_base}?ref={code}" if code else self.share_base,
                "organisation": settings.ORGANISATION_NAME,
                "recruit_count": 0,
                "last_gift": "",
            }
        if self.needs_recruits:
            for rid, n in (
                Person.objects.filter(recruiter_id__in=person_ids)
                .values("recruiter_id")
                .annotate(n=Count("pk"))
                .values_list("recruiter_id", "n")
            ):
                if rid in out:
                    out[rid]["recruit_count"] = n
        if self.needs_gift and apps.is_installed("clarion.donations"):
            donation = apps.get_model("donations", "Donation")
            for pid, pence in (
                donation.objects.filter(person_id__in=person_ids, status="succeeded")
                .order_by("person_id", "-created_at")
                .values_list("person_id", "amount_pence")
            ):
                if pid in out and not out[pid]["last_gift"]:
                    out[pid]["last_gift"] = f"£{pence // 100}.{pence % 100:02d}"
        for pid, flags in self.segment_flags(list(out)).items():
            out[pid].update(flags)
        return out

    # --- one message --------------------------------------------------------------

    def message(
        self, *, recipient_id: int, email: str, variant: int | None, context: dict
    ) -> tuple[str, bytes]:
        """(envelope sender, message bytes) for one ledger row."""
        index = variant or 0
        v = self.variants[index if index < len(self.variants) else 0]
        token = tokens.recipient_token(recipient_id)
        unsubscribe = f"{self.site}/m/u/?r={token}"
        ctx = dict(context)
        ctx.update(
            unsubscribe_url=unsubscribe,
            preferences_url=f"{self.site}/m/p/?r={token}",
            click=f"{self.site}/m/c/?r={token}&l=",
            pixel=f"{self.site}/m/o/?r={token}",
        )
        html = render.render(v.body.html, ctx)
        text = render.render(v.body.text, ctx)
        subject = v.subject_header or mime.encode_header(render.render(v.subject, ctx).strip())
        verp = tokens.verp_local(recipient_id)
        mailto_local = "unsubscribe+" + verp[len(tokens.VERP_PREFIX) :]
        headers = [
            ("From", v.from_header),
            ("To", mime.address(ctx["full_name"], email)),
            ("Subject", subject),
            ("Date", mime.header_date()),
            ("Message-ID", f"<m{self.mailing.pk}.r{recipient_id}@{self.msgid_domain}>"),
        ]
        if self.reply_to:
            headers.append(("Reply-To", self.reply_to))
        headers += [
            ("List-Id", self.list_id),
            (
                "List-Unsubscribe",
                f"<{unsubscribe}>, <mailto:{mailto_local}@{self.verp_domain}?subject=unsubscribe>",
            ),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("Precedence", "bulk"),
        ]
        data = mime.build(
            headers=headers, text=text, html=html, boundary=f"=_clarion_{recipient_id}"
        )
        if self.dkim is not None:
            data = self.dkim.sign(data)
        return f"{verp}@{self.verp_domain}", data
