"""Demo segments for ``clarion load_demo`` (after ``seed_people`` has made the tags)."""

from __future__ import annotations

from clarion.areas.models import Area
from clarion.core.models import User

from .models import Segment, Tag
from .segments.services import segment_create


def demo_segments_create() -> list[Segment]:
    """A few segments a campaign would really keep. Idempotent by name."""
    admin = User.objects.filter(role=User.Role.ADMIN).order_by("pk").first()
    tags = {tag.name: tag.pk for tag in Tag.objects.all()}
    north = Area.objects.filter(code="R-N").first()
    wanted = [
        (
            "Subscribed NHS supporters in the North",
            "Who to email about the hospital campaign.",
            {
                "op": "all",
                "conditions": [
                    {"type": "tag", "tags": [tags.get("NHS supporter")], "match": "any"},
                    {"type": "area", "area": north.pk if north else None},
                    {"type": "email_status", "statuses": ["subscribed"]},
                ],
            },
        ),
        (
            "Members who want to canvass",
            "Active members who said canvassing when they joined.",
            {
                "op": "all",
                "conditions": [
                    {"type": "membership", "statuses": ["active"]},
                    {
                        "type": "custom_field",
                        "field": "volunteer_interest",
                        "operator": "eq",
                        "value": "Canvassing",
                    },
                ],
            },
        ),
        (
            "Housing or transport campaigners",
            "Anyone tagged for either campaign, except people who complained.",
            {
                "op": "all",
                "conditions": [
                    {
                        "type": "tag",
                        "tags": [tags.get("Housing supporter"), tags.get("Transport supporter")],
                        "match": "any",
                    },
                    {
                        "op": "not",
                        "conditions": [{"type": "email_status", "statuses": ["complained"]}],
                    },
                ],
            },
        ),
    ]
    made = []
    for name, description, definition in wanted:
        existing = Segment.objects.filter(name=name).first()
        if existing is not None:
            made.append(existing)
            continue
        made.append(
            segment_create(name=name, description=description, definition=definition, user=admin)
        )
    return made
