"""Reading messy CSV files of people: encoding, delimiter, header mapping, row cleaning.

Nothing here touches the database except ``custom_field_defs`` (read-only). The
functions are hot: a million-row import calls ``row_clean`` a million times, so the
common cases take fast paths that give exactly what ``clarion.people.normalise`` gives
(tests compare the two on generated inputs).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import phonenumbers
from django.utils.translation import gettext as _

from clarion.areas.postcodes import InvalidPostcode, normalise_postcode
from clarion.people.models import CustomField, EmailStatus
from clarion.people.normalise import (
    InvalidEmail,
    InvalidPhone,
    clean_name,
    looks_like_formula,
    normalise_email,
    normalise_phone,
)
from clarion.people.services import custom_field_value

SAMPLE_BYTES = 64 * 1024

# Column targets. ``identifier:<system>`` and ``custom:<key>`` are built per file.
TARGETS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "tags",
    "email_status",
)


def target_choices(custom_fields: Sequence[CustomField] = ()) -> list[tuple[str, str]]:
    """(value, label) pairs for a mapping <select>, the empty value meaning "skip"."""
    labels = {
        "first_name": _("First name"),
        "last_name": _("Last name"),
        "email": _("Email"),
        "phone": _("Phone"),
        "address_line1": _("Address"),
        "address_line2": _("Address line 2"),
        "town": _("Town"),
        "postcode": _("Postcode"),
        "tags": _("Tags (comma or ; separated)"),
        "email_status": _("Email subscription status"),
        "identifier": _("External id"),
    }
    choices = [("", _("— skip this column —"))]
    choices += [(t, labels[t]) for t in (*TARGETS, "identifier")]
    choices += [
        (f"custom:{f.key}", _("Custom field: %(label)s") % {"label": f.label})
        for f in custom_fields
    ]
    return choices


_HEADER_ALIASES = {
    "first_name": {"firstname", "first", "forename", "forenames", "givenname", "given", "fname"},
    "last_name": {"lastname", "last", "surname", "familyname", "lname"},
    "email": {"email", "emailaddress", "mail", "e-mail", "emailaddr"},
    "phone": {
        "phone",
        "mobile",
        "telephone",
        "tel",
        "phonenumber",
        "mobilephone",
        "mobilenumber",
        "cell",
        "cellphone",
    },
    "postcode": {"postcode", "postalcode", "zip", "zipcode", "post"},
    "address_line1": {"address", "address1", "addressline1", "street", "streetaddress", "addr1"},
    "address_line2": {"address2", "addressline2", "addr2"},
    "town": {"town", "city", "towncity", "locality"},
    "tags": {"tags", "tag", "labels"},
    "email_status": {
        "emailstatus",
        "subscribed",
        "subscriptionstatus",
        "emailsubscription",
        "optin",
        "emailoptin",
    },
}
_IDENTIFIER_HEADERS = {
    "vanid",
    "externalid",
    "id",
    "memberid",
    "crmid",
    "uniqueid",
    "contactid",
    "personid",
}
_HEADER_JUNK = re.compile(r"[\s_\-.:/]+")


def _header_key(header: str) -> str:
    return _HEADER_JUNK.sub("", header.strip().lower().replace("e-mail", "email"))


def identifier_system(header: str) -> str:
    """The system name an external id column is stored under: "Van ID" → "van_id"."""
    words = re.findall(r"[a-z0-9]+", header.lower())
    return "_".join(words)[:50] or "external"


def mapping_guess(headers: Sequence[str], custom_fields: Sequence[CustomField] = ()) -> list[str]:
    """A target for each header (``""`` to skip). Each target is used at most once,
    except ``tags``; the first column wins."""
    by_custom = {}
    for f in custom_fields:
        by_custom[_header_key(f.key)] = f.key
        by_custom[_header_key(f.label)] = f.key
    used: set[str] = set()
    result = []
    for header in headers:
        key = _header_key(header)
        target = ""
        for name, aliases in _HEADER_ALIASES.items():
            if key in aliases:
                target = name
                break
        if not target and key in by_custom:
            target = f"custom:{by_custom[key]}"
        if not target and (key in _IDENTIFIER_HEADERS or key.endswith("externalid")):
            target = f"identifier:{identifier_system(header)}"
        if target.startswith("identifier") and any(u.startswith("identifier") for u in used):
            target = ""
        if target in used and target != "tags":
            target = ""
        if target:
            used.add(target)
        result.append(target)
    return result


# --- reading the file -------------------------------------------------------------


def detect_encoding(sample: bytes) -> str:
    """utf-8-sig when the bytes decode as UTF-8 (a BOM is dropped), else cp1252 (what
    Excel on Windows writes), else charset-normalizer's best guess."""
    for encoding in ("utf-8-sig",):
        try:
            sample.decode(encoding)
            return encoding
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still UTF-8.
            if exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
                return encoding
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    return best.encoding if best is not None else "latin-1"


def detect_delimiter(text_sample: str) -> str:
    """``,``, ``;``, tab or ``|`` by csv.Sniffer, falling back to the commonest one in
    the header line."""
    first_line = text_sample.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(text_sample[:SAMPLE_BYTES], delimiters=",;\t|")
        delimiter = dialect.delimiter
        if delimiter in first_line or "\n" not in text_sample:
            return delimiter
    except csv.Error:
        pass
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class CsvFile:
    encoding: str
    delimiter: str
    headers: list[str]
    text: IO[str]
    header_lines: int

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(file line number where the row starts, cells), blank rows skipped."""
        reader = csv.reader(self.text, delimiter=self.delimiter)
        line = 0
        for cells in reader:
            start = self.header_lines + line + 1
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            yield start, cells


def csv_open(binary: IO[bytes], *, encoding: str = "", delimiter: str = "") -> CsvFile:
    """Open an uploaded or local CSV file for reading, detecting what is not given.

    Raises ValueError with a message for the user when the file has no header row.
    """
    sample = binary.read(SAMPLE_BYTES)
    binary.seek(0)
    encoding = encoding or detect_encoding(sample)
    text = io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")
    if not delimiter:
        delimiter = detect_delimiter(sample.decode(encoding, errors="replace").lstrip("\ufeff"))
    reader = csv.reader(text, delimiter=delimiter)
    headers: list[str] = []
    for cells in reader:
        if any(c.strip() for c in cells):
            headers = [c.strip().lstrip("\ufeff").strip() for c in cells]
            break
    if not headers:
        raise ValueError(_("The file is empty or has no header row."))
    # The same stream carries on after the header: csv.reader reads line by line.
    return CsvFile(
        encoding=encoding,
        delimiter=delimiter,
        headers=headers,
        text=text,
        header_lines=reader.line_num,
    )


# --- cleaning one row ---------------------------------------------------------------

# A strict subset of what Django's EmailValidator accepts, for the common case; anything
# else goes through ``normalise_email``. Lower case is applied before matching.
_FAST_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,63}"
)


def fast_email(value: str) -> str:
    """``normalise_email(value)``, quicker for ordinary addresses."""
    email = value.strip().lower()
    if len(email) <= 254 and _FAST_EMAIL.fullmatch(email):
        return email
    return normalise_email(value)


_GB = phonenumbers.PhoneMetadata.metadata_for_region("GB")
_GB_GENERAL = re.compile(_GB.general_desc.national_number_pattern)
_GB_TYPES = [
    re.compile(desc.national_number_pattern)
    for desc in (_GB.mobile, _GB.fixed_line)
    if desc is not None and desc.national_number_pattern and 10 in (desc.possible_length or (10,))
]
_FAST_PHONE = re.compile(r"(?:\+44|0)([1-9]\d{9})")
_PHONE_PUNCT = str.maketrans("", "", " -.()")


def fast_phone(value: str) -> str:
    """``normalise_phone(value)`` (UK default region), quicker for UK mobile and
    landline numbers written in the usual ways."""
    compact = value.strip().translate(_PHONE_PUNCT)
    match = _FAST_PHONE.fullmatch(compact)
    if match and "(" not in value:
        nsn = match.group(1)
        if _GB_GENERAL.fullmatch(nsn) and any(p.fullmatch(nsn) for p in _GB_TYPES):
            return "+44" + nsn
    return normalise_phone(value)


_POSTCODE_CACHE: dict[str, str | None] = {}


def fast_postcode(value: str) -> str:
    """``normalise_postcode(value)``, remembered: files repeat the same postcodes."""
    try:
        result = _POSTCODE_CACHE[value]
    except KeyError:
        try:
            result = normalise_postcode(value)
        except InvalidPostcode:
            result = None
        if len(_POSTCODE_CACHE) > 500_000:
            _POSTCODE_CACHE.clear()
        _POSTCODE_CACHE[value] = result
    if result is None:
        raise InvalidPostcode(value)
    return result


_STATUS_WORDS = {
    "yes": EmailStatus.SUBSCRIBED,
    "y": EmailStatus.SUBSCRIBED,
    "true": EmailStatus.SUBSCRIBED,
    "1": EmailStatus.SUBSCRIBED,
    "subscribed": EmailStatus.SUBSCRIBED,
    "opted in": EmailStatus.SUBSCRIBED,
    "no": EmailStatus.UNSUBSCRIBED,
    "n": EmailStatus.UNSUBSCRIBED,
    "false": EmailStatus.UNSUBSCRIBED,
    "0": EmailStatus.UNSUBSCRIBED,
    "unsubscribed": EmailStatus.UNSUBSCRIBED,
    "opted out": EmailStatus.UNSUBSCRIBED,
    "bouncing": EmailStatus.BOUNCING,
    "bounced": EmailStatus.BOUNCING,
    "complained": EmailStatus.COMPLAINED,
    "spam complaint": EmailStatus.COMPLAINED,
    "none": EmailStatus.NONE,
    "not subscribed": EmailStatus.NONE,
}


@dataclass(slots=True)
class CleanRow:
    """One accepted row, normalised; empty strings mean "not given"."""

    line: int
    email: str = ""
    phone: str = ""
    identifier: tuple[str, str] | None = None
    first_name: str = ""
    last_name: str = ""
    address_line1: str = ""
    address_line2: str = ""
    town: str = ""
    postcode: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    email_status: str | None = None
    warnings: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RejectedRow:
    line: int
    reason: str
    cells: list[str]


class RowCleaner:
    """Turns the cells of one row into a CleanRow or a RejectedRow, following the
    per-column rules:

    - an invalid email is dropped with a warning if the row has a valid phone or an
      external id; otherwise the row is rejected;
    - an invalid phone, postcode, status or custom value is dropped with a warning and
      the row still imports;
    - a row with no email, phone or external id is rejected;
    - a name that starts like a spreadsheet formula (= + - @) is rejected; other free
      text that does is kept with a leading ``'`` so spreadsheets show it as text.
    """

    def __init__(
        self, columns: Sequence[str], custom_fields: dict[str, CustomField] | None = None
    ) -> None:
        self.columns = list(columns)
        self.custom_fields = custom_fields or {}
        self.index: dict[str, int] = {}
        self.tag_indexes: list[int] = []
        self.custom_indexes: list[tuple[int, CustomField]] = []
        self.identifier: tuple[int, str] | None = None
        for i, target in enumerate(self.columns):
            if not target:
                continue
            if target == "tags":
                self.tag_indexes.append(i)
            elif target.startswith("custom:"):
                definition = self.custom_fields.get(target[7:])
                if definition is not None:
                    self.custom_indexes.append((i, definition))
            elif target.startswith("identifier"):
                system = target.partition(":")[2] or "external"
                self.identifier = (i, system[:50])
            elif target in TARGETS:
                self.index.setdefault(target, i)

    def _cell(self, cells: list[str], target: str) -> str:
        i = self.index.get(target)
        if i is None or i >= len(cells):
            return ""
        return cells[i]

    def clean(self, line: int, cells: list[str]) -> CleanRow | RejectedRow:
        """The row at ``line`` cleaned by the rules above; reads nothing but the cells
        and the custom field definitions given to the cleaner."""
        row = CleanRow(line=line, cells=cells)
        rejected = self._clean_keys(row, cells) or self._clean_names(row, cells)
        if rejected is not None:
            return rejected
        self._clean_postcode_and_status(row, cells)
        if self.tag_indexes:
            self._clean_tags(row, cells)
        if self.custom_indexes:
            self._clean_custom(row, cells)
        return row

    def _clean_keys(self, row: CleanRow, cells: list[str]) -> RejectedRow | None:
        """Set the row's email, phone and external id; the rejection if it has none
        that is valid (an invalid email is only a warning when a phone or id is left)."""
        raw_email = self._cell(cells, "email").strip()
        raw_phone = self._cell(cells, "phone").strip()
        email_bad = False
        if raw_email:
            try:
                row.email = fast_email(raw_email)
            except InvalidEmail:
                email_bad = True
        if raw_phone:
            try:
                row.phone = fast_phone(raw_phone)
            except InvalidPhone:
                row.warnings.append(
                    _("Phone %(value)s is not a valid number; left out.")
                    % {"value": raw_phone[:40]}
                )
        if self.identifier is not None:
            i, system = self.identifier
            value = cells[i].strip()[:200] if i < len(cells) else ""
            if value:
                row.identifier = (system, value)
        if email_bad:
            if not (row.phone or row.identifier):
                return RejectedRow(
                    row.line,
                    _("Invalid email address %(value)s and no valid phone number.")
                    % {"value": raw_email[:80]},
                    cells,
                )
            row.warnings.append(
                _("Email %(value)s is not valid; left out.") % {"value": raw_email[:80]}
            )
        if not (row.email or row.phone or row.identifier):
            return RejectedRow(row.line, _("No email address, phone number or external id."), cells)
        return None

    def _clean_names(self, row: CleanRow, cells: list[str]) -> RejectedRow | None:
        """Set names, address and town; the rejection if a name looks like a formula."""
        for name in ("first_name", "last_name"):
            value = clean_name(self._cell(cells, name))
            if value == "-":
                value = ""
            if looks_like_formula(value):
                return RejectedRow(
                    row.line,
                    _("The name %(value)s looks like a spreadsheet formula.")
                    % {"value": value[:40]},
                    cells,
                )
            setattr(row, name, value)
        for name, limit in (("address_line1", 200), ("address_line2", 200), ("town", 100)):
            value = clean_name(self._cell(cells, name), limit)
            if looks_like_formula(value):
                value = ("'" + value)[:limit]
            setattr(row, name, value)
        return None

    def _clean_postcode_and_status(self, row: CleanRow, cells: list[str]) -> None:
        """Set the postcode and email status; an invalid one is left out with a warning."""
        raw_postcode = self._cell(cells, "postcode").strip()
        if raw_postcode:
            try:
                row.postcode = fast_postcode(raw_postcode)
            except InvalidPostcode:
                row.warnings.append(
                    _("Postcode %(value)s is not a valid UK postcode; left out.")
                    % {"value": raw_postcode[:20]}
                )
        raw_status = self._cell(cells, "email_status").strip().lower()
        if raw_status:
            status = _STATUS_WORDS.get(raw_status)
            if status is None:
                row.warnings.append(
                    _("Email status %(value)s is not recognised; left unchanged.")
                    % {"value": raw_status[:30]}
                )
            else:
                row.email_status = str(status)

    def _clean_tags(self, row: CleanRow, cells: list[str]) -> None:
        """Add the tag columns' names (split on ; and ,), each once, case-insensitively."""
        for i in self.tag_indexes:
            if i < len(cells) and cells[i].strip():
                for name in re.split(r"[;,]", cells[i]):
                    name = clean_name(name)
                    if not name:
                        continue
                    if looks_like_formula(name):
                        name = ("'" + name)[:100]
                    if name.lower() not in (t.lower() for t in row.tags):
                        row.tags.append(name)

    def _clean_custom(self, row: CleanRow, cells: list[str]) -> None:
        """Set the custom field values; one that does not fit its field is left out
        with a warning."""
        for i, definition in self.custom_indexes:
            raw = cells[i] if i < len(cells) else ""
            if not raw.strip():
                continue
            try:
                value = custom_field_value(definition, raw)
            except ValueError as exc:
                row.warnings.append(str(exc))
                continue
            if value is not None:
                row.custom[definition.key] = value


def custom_field_defs() -> dict[str, CustomField]:
    return {f.key: f for f in CustomField.objects.all()}
