from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from .models import Area, Postcode
from .postcodes import InvalidPostcode, normalise_postcode


def _set_path(area: Area) -> None:
    parent = area.parent
    area.path = f"{parent.path if parent else '/'}{area.pk}/"
    area.depth = parent.depth + 1 if parent else 0


@transaction.atomic
def area_create(*, code: str, name: str, kind: str, parent: Area | None = None) -> Area:
    area = Area.objects.create(code=code, name=name, kind=kind, parent=parent, path="")
    _set_path(area)
    area.save(update_fields=["path", "depth"])
    return area


@transaction.atomic
def area_move(*, area: Area, parent: Area | None) -> Area:
    """Re-parent ``area`` and rewrite the paths of its whole subtree."""
    if parent is not None and parent.path.startswith(area.path):
        raise ValueError(_("An area cannot be moved inside itself."))
    old_path = area.path
    area.parent = parent
    _set_path(area)
    area.save(update_fields=["parent", "path", "depth"])
    for child in (
        Area.objects.filter(path__startswith=old_path).exclude(pk=area.pk).order_by("depth")
    ):
        _set_path(child)
        child.save(update_fields=["path", "depth"])
    return area


@dataclass
class LoadResult:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


@transaction.atomic
def areas_load_csv(*, text: str) -> LoadResult:
    """Load ``code,name,kind,parent_code`` rows; parents may come later in the file.

    Existing codes are updated (name, kind, parent). All or nothing: any bad row rolls
    the whole load back and is reported.
    """
    result = LoadResult()
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    missing = {"code", "name"} - set(rows[0].keys() if rows else [])
    if missing:
        result.errors.append(_("The file needs the columns code, name, kind and parent_code."))
        return result
    by_code = {a.code: a for a in Area.objects.all()}
    pending = list(enumerate(rows, start=2))
    kinds = set(Area.Kind.values)
    while pending:
        progressed = False
        still = []
        for line, row in pending:
            code = (row.get("code") or "").strip()
            name = (row.get("name") or "").strip()
            kind = (row.get("kind") or "branch").strip().lower() or "branch"
            parent_code = (row.get("parent_code") or "").strip()
            if not code or not name:
                result.errors.append(
                    _("Line %(line)s: code and name are required.") % {"line": line}
                )
                progressed = True
                continue
            if kind not in kinds:
                result.errors.append(
                    _("Line %(line)s: unknown kind %(kind)r.") % {"line": line, "kind": kind}
                )
                progressed = True
                continue
            if parent_code and parent_code not in by_code:
                still.append((line, row))
                continue
            parent = by_code.get(parent_code) if parent_code else None
            existing = by_code.get(code)
            if existing is None:
                by_code[code] = area_create(code=code, name=name, kind=kind, parent=parent)
                result.created += 1
            else:
                existing.name, existing.kind = name, kind
                existing.save(update_fields=["name", "kind"])
                if existing.parent_id != (parent.pk if parent else None):
                    area_move(area=existing, parent=parent)
                result.updated += 1
            progressed = True
        if not progressed:
            for line, row in still:
                result.errors.append(
                    _("Line %(line)s: parent %(parent)r is not a known area code.")
                    % {"line": line, "parent": row.get("parent_code")}
                )
            break
        pending = still
    if result.errors:
        transaction.set_rollback(True)
        result.created = result.updated = 0
    return result


@transaction.atomic
def postcodes_load_csv(*, text: str) -> LoadResult:
    """Load ``postcode,latitude,longitude,area_code`` rows, replacing existing postcodes.

    Bad rows are reported and skipped; good rows load.
    """
    result = LoadResult()
    areas = dict(Area.objects.values_list("code", "pk"))
    existing = set(Postcode.objects.values_list("postcode", flat=True))
    new: list[Postcode] = []
    changed: list[Postcode] = []
    for line, row in enumerate(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))), start=2):
        try:
            pc = normalise_postcode(row.get("postcode") or "")
            lat = float(row.get("latitude") or "")
            lng = float(row.get("longitude") or "")
        except (InvalidPostcode, ValueError):
            result.errors.append(
                _("Line %(line)s: needs a valid postcode, latitude and longitude.") % {"line": line}
            )
            continue
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            result.errors.append(
                _("Line %(line)s: latitude or longitude out of range.") % {"line": line}
            )
            continue
        code = (row.get("area_code") or "").strip()
        if code and code not in areas:
            result.errors.append(
                _("Line %(line)s: unknown area code %(code)r.") % {"line": line, "code": code}
            )
            continue
        obj = Postcode(postcode=pc, latitude=lat, longitude=lng, area_id=areas.get(code))
        (changed if pc in existing else new).append(obj)
        existing.add(pc)
    Postcode.objects.bulk_create(new, batch_size=2000)
    Postcode.objects.bulk_update(changed, ["latitude", "longitude", "area"], batch_size=2000)
    result.created, result.updated = len(new), len(changed)
    return result


def group_page_save(*, area: Area, get_involved: str, join_tag: str) -> Area:
    area.get_involved = get_involved.strip()
    area.join_tag = join_tag.strip()
    area.save(update_fields=["get_involved", "join_tag"])
    return area
