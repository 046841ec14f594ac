"""`safeguard identity resolve`: a CSV of person records through the same resolver, record by record.

Inputs: CSV with ``record_id,source,given_name,family_name,date_of_birth,sex,nhs_number,postcode,
address_line,town`` (any may be blank except ``record_id``). Outputs: ``record_id,person_id`` for
every accepted line, and one report line per problem (a line refused, or a field ignored).
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


def read_records(path: Path) -> Iterator[tuple[int, Record | None, Sequence[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "record_id" not in reader.fieldnames:
            raise ValueError(f"{path}: the header must include record_id (columns: {','.join(COLUMNS)})")
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
