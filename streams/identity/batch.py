"""`safeguard identity resolve`: a CSV of person records through the same resolver, record by record.

Inputs: CSV in UTF-8 (a byte-order mark, as spreadsheets write, is fine) with ``record_id,source,
given_name,family_name,date_of_birth,sex,nhs_number,postcode,address_line,town`` (any may be blank except
``record_id``; headers are read regardless of case, surrounding spaces, and spaces or hyphens for
underscores: ``Given Name``). Outputs: ``record_id,person_id`` for every accepted line, and one report
line per problem (a line refused, a field ignored, or a column that is none of these, so a ``dob``
column is never dropped unseen).
Guarantee: records are resolved in file order by the incremental resolver the pipeline uses; the
output gives each record its person after the whole file (merges included).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from streams.identity.resolver import MATCH_THRESHOLD, Record, Resolver

COLUMNS = ("record_id", "source", "given_name", "family_name", "date_of_birth", "sex", "nhs_number", "postcode",
           "address_line", "town")


def column_name(header: str) -> str:
    """A header as the columns are named: ``Given Name`` and `` given-name`` are ``given_name``."""
    return "_".join(header.strip().lower().replace("-", " ").split())


def read_records(path: Path) -> Iterator[tuple[int, Record | None, Sequence[str]]]:
    """Each line's number, its record (None if refused) and its problems. Line 1's problems: columns ignored."""
    try:
        yield from _read(path)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 ({_first_undecodable(path)}): save it as UTF-8 (CSV UTF-8)") from exc


def _first_undecodable(path: Path) -> str:
    """Where the first byte that is not UTF-8 is (the decoder's own offset counts from the chunk it read)."""
    content = path.read_bytes()
    try:
        content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[:exc.start].count(b"\n") + 1
        return f"byte {content[exc.start]:#04x} on line {line}"
    return "a byte changed while it was read"


def _read(path: Path) -> Iterator[tuple[int, Record | None, Sequence[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        headers = reader.fieldnames or []
        names = [column_name(header) for header in headers]
        if "record_id" not in names:
            raise ValueError(f"{path}: the header must include record_id (columns: {','.join(COLUMNS)})")
        repeated = sorted({name for name in names if name in COLUMNS and names.count(name) > 1})
        if repeated:
            raise ValueError(f"{path}: the header names {', '.join(repeated)} twice")
        reader.fieldnames = names
        ignored = [header for header, name in zip(headers, names) if name not in COLUMNS]
        if ignored:
            yield 1, None, [f"column {header!r} ignored: not one of {','.join(COLUMNS)}" for header in ignored]
        seen: set[str] = set()
        for line, row in enumerate(reader, start=2):
            record_id = (row.get("record_id") or "").strip()
            if not record_id:
                yield line, None, ["record_id is required"]
                continue
            if record_id in seen:
                yield line, None, [f"record_id {record_id} appears twice"]
                continue
            seen.add(record_id)
            record = Record.from_raw(record_id, **{k: row.get(k) for k in COLUMNS if k != "record_id"})
            yield line, record, record.problems


def resolve_file(source: Path, target: Path, match_threshold: float = MATCH_THRESHOLD) -> tuple[int, list[str], Resolver]:
    resolver = Resolver(match_threshold)
    report: list[str] = []
    resolved: list[str] = []
    for line, record, problems in read_records(source):
        for problem in problems:
            report.append(f"line {line}" + (f" record {record.record_id}" if record else "") + f": {problem}")
        if record is not None:
            resolver.resolve(record)
            resolved.append(record.record_id)
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["record_id", "person_id"])
        # Written once all are resolved: a later record can prove two earlier persons one (a merge).
        writer.writerows([record_id, resolver.person_for(record_id)] for record_id in resolved)
    return len(resolved), report, resolver
