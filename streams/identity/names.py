"""Name and date knowledge the resolver needs: variants of given names, diacritics, formats.

Inputs: raw names and dates as sources write them; the variant table (``name_variants.toml``: Welsh,
English, Polish and Arabic forms, kept as data), the curated English nickname data of the
``nicknames`` package and Jörg Michael's first-name dictionary (``nam_dict.txt``, shipped in the
``gender-guesser`` package: about 45,000 given names with their frequency in 54 countries, and 700
short/long forms), all read once. Outputs: normalised forms, whether two given names are forms
of one name (Dafydd / Dai, Owain / Owen, Josh / Joshua, Gosia / Małgorzata), whether a spelling is a
known given name at all, phonetic codes (jellyfish) and candidate readings of a date (day/month
transposed). Guarantee: pure functions after the data is loaded.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import tomllib
import unicodedata
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import jellyfish
import nicknames
from rapidfuzz import process
from rapidfuzz.distance import OSA

from streams.clock import Clock

VARIANTS_FILE = Path(__file__).with_name("name_variants.toml")
# Letters NFKD does not take apart (Polish ł, Danish ø, ...): written as their plain forms.
_TRANSLITERATE = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE",
                                "œ": "oe", "Œ": "OE", "ß": "ss", "þ": "th", "Þ": "TH", "ı": "i"})


@lru_cache(maxsize=1)
def _groups() -> dict[str, frozenset[int]]:
    """Every given name of the variant table with the groups (lines) it belongs to; a name may be in
    several (Beth: Elizabeth and Bethan), which does not make those groups one."""
    data = tomllib.loads(VARIANTS_FILE.read_text(encoding="utf-8"))
    index: dict[str, set[int]] = {}
    lines = [line for language in ("welsh", "english", "polish", "arabic") for line in data[language].split("\n") if line.strip()]
    for number, line in enumerate(lines):
        for name in line.split():
            index.setdefault(name, set()).add(number)
    return {name: frozenset(groups) for name, groups in index.items()}


@lru_cache(maxsize=1)
def _nicknames() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """The curated English nickname data (``nicknames`` package): each name's direct nicknames and
    canonical forms (Josh: Joshua), never chains (Joe is Joseph's and Joshua's, not one name of both)."""
    related: dict[str, set[str]] = {}
    vocabulary: set[str] = set()
    with (Path(nicknames.__file__).with_name("names.csv")).open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            first, second = fold(row["name1"]), fold(row["name2"])
            if first and second and " " not in first and " " not in second:
                related.setdefault(first, set()).add(second)
                related.setdefault(second, set()).add(first)
                vocabulary |= {first, second}
    return {name: frozenset(names) for name, names in related.items()}, frozenset(vocabulary)


# Columns of the dictionary's frequency table (from column 30) for the countries whose names are
# common in Wales: Great Britain, Ireland, the USA (English names), Poland, Turkey, Arabia/Persia, India.
_COUNTRIES_HERE = (0, 1, 2, 23, 46, 47, 50)


@lru_cache(maxsize=1)
def _name_dictionary() -> tuple[frozenset[str], frozenset[str], dict[str, frozenset[str]]]:
    """Jörg Michael's first-name dictionary (GNU FDL; read, never changed): the given names borne in the
    countries whose names are common here, every name it lists in any country, and its short/long
    forms (Aga / Agnieszka, Abe / Abraham)."""
    here: set[str] = set()
    names: set[str] = set()
    forms: dict[str, set[str]] = {}
    # Located without importing the package: its data file is read as shipped (GNU FDL); its code (GPLv3) is not run.
    spec = importlib.util.find_spec("gender_guesser")
    if spec is None or spec.origin is None:
        raise RuntimeError("the gender-guesser package (its first-name dictionary) is not installed")
    path = Path(spec.origin).with_name("data") / "nam_dict.txt"
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line[:1] == "#" or len(line) < 30:
                continue
            kind, *written = line[:29].split()
            spellings = [fold(name.replace("+", "")) for name in written]
            if kind == "=" and len(spellings) == 2 and all(spellings) and spellings[0] != spellings[1]:
                short, long = spellings
                forms.setdefault(short, set()).add(long)
                forms.setdefault(long, set()).add(short)
            elif kind != "=" and spellings and spellings[0] and " " not in spellings[0]:
                names.add(spellings[0])
                if any(line[30 + column:31 + column].strip() for column in _COUNTRIES_HERE):
                    here.add(spellings[0])
    return frozenset(here), frozenset(names), {name: frozenset(others) for name, others in forms.items()}


@lru_cache(maxsize=1 << 16)  # names repeat (Jones, Megan): fold each spelling once
def fold(text: str | None) -> str:
    """Lower case, no diacritics (Siân -> sian, Paweł -> pawel), letters and single spaces only."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^a-z\s-]", " ", plain).replace("-", " ").split())


def first_given(text: str | None) -> str:
    folded = fold(text)
    return folded.split()[0] if folded else ""


def same_name_group(a: str, b: str) -> bool:
    """Forms of one given name: a line of the variant table (Owain / Owen, Małgorzata / Gosia, Mohammed /
    Muhammad), a curated English nickname (Josh / Joshua) or a short form of the name dictionary (Aga /
    Agnieszka)."""
    if a == b:
        return True
    groups = _groups()
    if groups.get(a, frozenset()) & groups.get(b, frozenset()):
        return True
    return b in _nicknames()[0].get(a, ()) or b in _name_dictionary()[2].get(a, ())


@lru_cache(maxsize=1)
def _names_the_dictionary_lacks() -> frozenset[str]:
    """Given names borne here that the name dictionary lacks: the variant table's ``welsh_names`` and its
    ``recent_names`` (common names of children born this century, newer than the dictionary)."""
    data = tomllib.loads(VARIANTS_FILE.read_text(encoding="utf-8"))
    return frozenset(data["welsh_names"].split() + data["recent_names"].split())


def known_given_name(name: str) -> bool:
    """A real given name to the curated data (the variant table and its Welsh names, the nickname data, or the
    name dictionary's names borne in Britain, Ireland, the USA, Poland, Turkey, the Arab countries or India): a spelling
    that is none of these is more likely a typing error than another name (Idriz, a name in the Balkans,
    is read as Idris mistyped here)."""
    return name in _groups() or name in _nicknames()[1] or name in _name_dictionary()[0] or name in _names_the_dictionary_lacks()


def named_somewhere(spelling: str) -> bool:
    """A given name in some country of the name dictionary, if not one common here (Chika, Olimpia,
    Idriz). Not enough to be a real name here, but too much to be read as another name mistyped
    two letters away."""
    return spelling in _name_dictionary()[1]


@lru_cache(maxsize=1 << 16)
def nearest_given_names(spelling: str) -> frozenset[str]:
    """The curated given names a spelling that is none may be a typing error of: one edit away (two for
    seven letters or more), letters swapped counting as one. Ceciklia: Cecilia; Tses: Tess."""
    if len(spelling) < 3:
        return frozenset()
    limit = 2 if len(spelling) >= 7 else 1
    found = process.extract(spelling, _vocabulary_near(len(spelling), limit), scorer=OSA.distance,
                            score_cutoff=limit, limit=None)
    return frozenset(name for name, _distance, _index in found)


@lru_cache(maxsize=64)
def _vocabulary_near(length: int, limit: int) -> tuple[str, ...]:
    """The curated given names within ``limit`` letters of ``length`` long (no others can be that close)."""
    every = set(_groups()) | _nicknames()[1] | _name_dictionary()[1] | _names_the_dictionary_lacks()
    return tuple(sorted(name for name in every if abs(len(name) - length) <= limit))


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
    Bella, Jo and Joy are names of their own."""
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
    """The same given name as written: equal, forms of one name (Dafydd / Dai), a consonant spelt another
    way (Cathleen / Kathleen), a typing slip, or a typing slip of another form of the name (Llwyelyn / Llew)."""
    if a == b or same_name_group(a, b) or one_sound(a, b) or typing_slip(a, b):
        return True
    return any(typing_slip(a, form) for form in _forms(b)) or any(typing_slip(b, form) for form in _forms(a))


def one_sound(a: str, b: str) -> bool:
    """One name with a consonant spelt another way that sounds the same: ph or f, ck or k, c or k before
    a, o, u, l or r (Philomena / Filomena, Cathleen / Kathleen, Cassidy / Kassidy). Not vowels, endings or
    doubled letters: Casey and Cassie, Hallie and Haley, Joey and Joy are names parents give twins."""
    return a != b and min(len(a), len(b)) >= 3 and _sound_spelling(a) == _sound_spelling(b)


_SOUNDS_ALIKE = ((re.compile("ph"), "f"), (re.compile("ck"), "k"), (re.compile("c(?=[aoulr])"), "k"))


@lru_cache(maxsize=1 << 16)
def _sound_spelling(name: str) -> str:
    for pattern, letter in _SOUNDS_ALIKE:
        name = pattern.sub(letter, name)
    return name


def may_be_a_name(spelling: str) -> bool:
    """A spelling with a vowel (y and w count, as Welsh writes them: Bryn, Gwyn). One with none (Nn, Brtn)
    is a typing error, however many families it is written for."""
    return not _VOWELS.isdisjoint(spelling)


_VOWELS = frozenset("aeiouyw")


@lru_cache(maxsize=1)
def _members_by_group() -> dict[int, tuple[str, ...]]:
    members: dict[int, list[str]] = {}
    for name, numbers in _groups().items():
        for number in numbers:
            members.setdefault(number, []).append(name)
    return {number: tuple(names) for number, names in members.items()}


def _forms(name: str) -> tuple[str, ...]:
    """The other forms of a name in the variant table (its lines), for typing slips of a form."""
    by_group = _members_by_group()
    return tuple(form for number in _groups().get(name, ()) for form in by_group[number])


@lru_cache(maxsize=1 << 16)
def name_forms(name: str) -> frozenset[str]:
    """A given name and every form of it the curated data knows (Theresa: Tess, Tessa, Terri...)."""
    return frozenset((name, *_forms(name), *_nicknames()[0].get(name, ()), *_name_dictionary()[2].get(name, ())))


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
