"""The education sink's reference data: the school directory and the school roll, loaded from CSV.

Inputs: CSV files. Directory columns: ``school_code,name,local_authority_code,dsl_email,deputy_dsl_email,language``
(``language``: ``cy``, ``en`` or ``cy+en``, the language the school reads its notices in). Roll
columns: ``school_code,upn,nhs_number`` (a pupil needs a UPN or an NHS number). Outputs: upserted
``school`` / ``school_roll`` rows and one rejection per bad line. Guarantee: the roll matches
pupils by strong identifiers only (UPN or NHS number, both check-digit validated), never by name
and date of birth, so a notice cannot be sent to another child's school by a loose match.
"""

from __future__ import annotations

import csv
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Engine
from sqlmodel import Session

from schemas.validators import normalise_nhs_number, normalise_upn
from sinks.models import School, SchoolRollEntry
from streams.notices.languages import checked_language

DIRECTORY_COLUMNS = {"school_code", "name"}
ROLL_COLUMNS = {"school_code"}


def _rows(path: Path, required: set[str]):  # type: ignore[no-untyped-def]
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for number, row in enumerate(reader, start=2):
            yield number, {k: (v or "").strip() for k, v in row.items() if k}


def load_directory(engine: Engine, path: Path) -> tuple[int, list[tuple[int, str]]]:
    loaded, rejected = 0, []
    with Session(engine) as session:
        for number, row in _rows(path, DIRECTORY_COLUMNS):
            if not row["school_code"] or not row["name"]:
                rejected.append((number, "school_code and name are required"))
                continue
            try:
                lead, deputy = (_address(row, column) for column in ("dsl_email", "deputy_dsl_email"))
                language = checked_language(row["language"], "language") if row.get("language") else None
            except ValueError as exc:
                rejected.append((number, str(exc)))
                continue
            session.merge(School(school_code=row["school_code"], name=row["name"],
                                 local_authority_code=row.get("local_authority_code") or None, dsl_email=lead,
                                 deputy_dsl_email=deputy, language=language))
            loaded += 1
        session.commit()
    return loaded, rejected


def _address(row: dict[str, str], column: str) -> str | None:
    if not row.get(column):
        return None
    try:
        return validate_email(row[column], check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"{column}: {exc}") from exc


def load_roll(engine: Engine, path: Path) -> tuple[int, list[tuple[int, str]]]:
    loaded, rejected = 0, []
    with Session(engine) as session:
        for number, row in _rows(path, ROLL_COLUMNS):
            try:
                upn = normalise_upn(row["upn"]) if row.get("upn") else None
                nhs = normalise_nhs_number(row["nhs_number"]) if row.get("nhs_number") else None
            except ValueError as exc:
                rejected.append((number, str(exc)))
                continue
            if not row["school_code"] or not (upn or nhs):
                rejected.append((number, "school_code and a UPN or NHS number are required"))
                continue
            session.merge(SchoolRollEntry(roll_id=f"{upn or ''}|{nhs or ''}", school_code=row["school_code"], upn=upn,
                                          nhs_number=nhs))
            loaded += 1
        session.commit()
    return loaded, rejected
