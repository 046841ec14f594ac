"""Name and date knowledge the resolver needs: Welsh and English variants, diacritics, formats.

Inputs: raw names and dates as sources write them. Outputs: normalised forms, the canonical
group of a given name (Dafydd, David and Dai are one group), phonetic codes (jellyfish) and
candidate readings of a date (day/month transposed). Guarantee: pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache

import jellyfish

from streams.clock import Clock

# Each line is one group of given names used for the same person (Welsh and English forms,
# nicknames, common spellings). Kept short and conservative: a wrong group would merge people.
GIVEN_NAME_GROUPS = """
dafydd david dai dave davy dewi
sian jane
sioned janet
sion john jon johnny
rhys rees reece rhisiart
gruffydd griffith gruff griff gruffudd
llywelyn llewelyn llew
ioan ifan evan ieuan iwan
huw hugh
gareth gary
catrin catherine katherine kate cathy cath kathryn katie
rhian rhiannon
elin ellen elen helen
gwen gwenllian gwendolyn
megan meg margaret maggie mared
mair mary maria mari
tomos thomas tom tommy twm
harri harry henry hal
alys alice alis
lowri laura lori
cerys ceris
william will bill billy gwilym wil
robert rob bob bobby robbie
richard rich rick dick rhisiart
elizabeth liz lizzie beth betty eliza bethan
james jim jimmy jamie iago
edward ed eddie ned iorwerth
michael mike mickey mihangel
peter pete pedr
stephen steve steven steffan
andrew andy andras
anthony tony antwn
daniel dan danny
samuel sam sammy
joseph joe joey
benjamin ben benji
christopher chris kit
matthew matt mathew mathau
nicholas nick nicky
alexander alex alec
charlotte lottie
olivia liv livvy
amelia amy millie
isabella isabel bella izzy
rebecca becky becca
jessica jess jessie
""".strip().splitlines()


@lru_cache(maxsize=1)
def _groups() -> dict[str, int]:
    index: dict[str, int] = {}
    for number, line in enumerate(GIVEN_NAME_GROUPS):
        for name in line.split():
            index.setdefault(name, number)
    return index


@lru_cache(maxsize=1 << 16)  # names repeat (Jones, Megan): fold each spelling once
def fold(text: str | None) -> str:
    """Lower case, no diacritics (Siân -> sian), letters and single spaces only."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^a-z\s-]", " ", plain).replace("-", " ").split())


def first_given(text: str | None) -> str:
    folded = fold(text)
    return folded.split()[0] if folded else ""


def name_group(name: str) -> int | None:
    return _groups().get(name)


def same_name_group(a: str, b: str) -> bool:
    group = name_group(a)
    return group is not None and group == name_group(b)


@lru_cache(maxsize=1 << 16)
def surname_parts(text: str | None) -> frozenset[str]:
    """Parts of a family name: 'Parry-Jones' -> {parry, jones, parryjones}; 'ap Dafydd' -> {dafydd, apdafydd}."""
    folded = fold(text)
    parts = {p for p in folded.split() if p not in ("ap", "ab", "ferch", "verch")}
    if folded:
        parts.add(folded.replace(" ", ""))
    return frozenset(parts)


def typing_slip(a: str, b: str) -> bool:
    """One name typed wrongly as the other: two neighbouring letters swapped (Naoh / Noah, Rhsy /
    Rhys), a letter doubled or undoubled (Gaareth / Gareth), or an inner letter dropped from a name
    of five or more letters (Megn / Megan). A dropped first or last letter is not a slip: Ella and
    Bella, Mari and Marie are names of their own."""
    if a == b or not a or not b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = sorted((a, b), key=len)
    if len(long) - len(short) != 1 or short[0] != long[0] or short[-1] != long[-1]:
        return False
    for i in range(1, len(long) - 1):
        if long[:i] + long[i + 1:] == short:
            return long[i] in (long[i - 1], long[i + 1]) or len(long) >= 5
    return False


def one_name(a: str, b: str) -> bool:
    """The same given name as written: equal, forms of one name (Dafydd / Dai), a typing slip, or a
    typing slip of another form of the name (Llwyelyn / Llew)."""
    if a == b or same_name_group(a, b) or typing_slip(a, b):
        return True
    return any(typing_slip(a, form) for form in _group_members(b)) or any(typing_slip(b, form) for form in _group_members(a))


@lru_cache(maxsize=1)
def _members_by_group() -> dict[int, tuple[str, ...]]:
    members: dict[int, list[str]] = {}
    for name, number in _groups().items():
        members.setdefault(number, []).append(name)
    return {number: tuple(names) for number, names in members.items()}


def _group_members(name: str) -> tuple[str, ...]:
    group = name_group(name)
    return _members_by_group()[group] if group is not None else ()


@lru_cache(maxsize=200_000)
def phonetic(name: str) -> str:
    """A phonetic code robust to Welsh spellings (Rhys/Rees, Gruffydd/Griffith share a NYSIIS prefix)."""
    if not name:
        return ""
    return jellyfish.nysiis(name.replace(" ", ""))[:6]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d", "%d %B %Y", "%d %b %Y", "%Y/%m/%d", "%d/%m/%y")


SYSTEM_CLOCK = Clock()


def parse_date(text: str | None) -> date | None:
    """A date in any common UK format (day first), or None."""
    if not text:
        return None
    cleaned = " ".join(text.strip().split())
    if _ISO_DATE.fullmatch(cleaned):  # the form events carry: no need for strptime's slow search
        try:
            return date.fromisoformat(cleaned)
        except ValueError:
            return None
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
        if fmt == "%d/%m/%y" and parsed.year > SYSTEM_CLOCK.today().year:  # a birth date is never in the future
            parsed = parsed.replace(year=parsed.year - 100)
        return parsed
    return None


def transposed(day: date) -> date | None:
    """The date with day and month swapped, when that is a different valid date."""
    if day.day == day.month or day.day > 12:
        return None
    return date(day.year, day.day, day.month)
