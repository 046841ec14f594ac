"""Synthetic Welsh/English families seen by police, health, schools and the local authority.

Inputs: a seeded ``random.Random`` and a number of people. Outputs: raw person records in the
``safeguard identity resolve`` columns, each with the true person it was drawn from. The families
have heavy surname repetition (Jones, Williams, Davies…), twins, and parents and children sharing a
given name; each agency sees each person with its own errors: nicknames and Welsh/English forms,
dropped diacritics, typos, day/month transposed dates, given and family names swapped, hyphenated
surnames split, missing fields, moved addresses, NHS numbers only where an agency has them and
occasionally mistyped. Guarantee: the same seed gives the same data.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from streams.identity.names import fold, same_name_group
from streams.runtime.demo import nhs_number

SURNAMES = ["Jones"] * 12 + ["Williams"] * 8 + ["Davies"] * 8 + ["Evans"] * 6 + ["Thomas"] * 6 + ["Roberts"] * 4 + \
    ["Hughes", "Lewis", "Morgan", "Griffiths", "Price", "Powell", "Pritchard", "Bevan", "Smith", "Taylor", "Parry-Jones",
     "Rees", "Owen", "Jenkins", "Lloyd", "Vaughan", "Bowen", "Prosser", "Watkins", "Gwynne", "Meredith", "Cadwaladr"]
GIVEN = {"m": ["Dafydd", "Rhys", "Gruffydd", "Osian", "Tomos", "Harri", "Llywelyn", "Ioan", "Jack", "Noah", "Oliver", "Cai",
               "Huw", "Gareth", "William", "Thomas", "James", "Daniel"],
         "f": ["Siân", "Cerys", "Megan", "Elin", "Gwen", "Ffion", "Alys", "Nia", "Lowri", "Olivia", "Amelia", "Seren",
               "Catrin", "Rhian", "Mair", "Elizabeth", "Charlotte"]}
VARIANTS = {"Dafydd": ["David", "Dai", "Dave"], "Rhys": ["Rees", "Reece"], "Gruffydd": ["Griffith", "Gruff"],
            "Llywelyn": ["Llew", "Llewelyn"], "Ioan": ["Ifan", "Evan"], "Huw": ["Hugh"], "Tomos": ["Thomas", "Tom"],
            "Harri": ["Harry", "Henry"], "Siân": ["Sian", "Jane"], "Catrin": ["Catherine", "Kate"], "Mair": ["Mary"],
            "Elizabeth": ["Liz", "Beth"], "William": ["Will", "Bill"], "James": ["Jim", "Jamie"], "Megan": ["Meg"],
            "Daniel": ["Dan", "Danny"], "Alys": ["Alice"], "Gwen": ["Gwenllian"]}
DISTRICTS = ["LD1", "LD2", "LD3", "SY16", "SY21", "SY20", "NP8", "SA61", "SA62", "SA72", "CF10", "SA1"]


def typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    return rng.choice([text[:i] + text[i + 1:], text[:i] + text[i] + text[i:], text[:i] + text[i + 1] + text[i] + text[i + 2:]])


def make_people(rng: random.Random, count: int) -> list[dict]:
    people: list[dict] = []
    while len(people) < count:
        family = rng.choice(SURNAMES)
        postcode = f"{rng.choice(DISTRICTS)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXY')}{rng.choice('ABDEFGHJLNPQRSTUWXY')}"
        street = f"{rng.randint(1, 120)} {rng.choice(['Heol y Castell', 'Stryd Fawr', 'Church Street', 'Maes y Dderwen'])}"
        parent_sex = rng.choice("mf")
        parent = {"given": rng.choice(GIVEN[parent_sex]), "family": family, "sex": parent_sex,
                  "dob": date(rng.randint(1970, 1998), rng.randint(1, 12), rng.randint(1, 28))}
        household = [parent]
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            sex = rng.choice("mf")
            dob = date(rng.randint(2008, 2024), rng.randint(1, 12), rng.randint(1, 28))
            given = parent["given"] if sex == parent_sex and rng.random() < 0.08 else rng.choice(GIVEN[sex])  # junior
            household.append({"given": given, "family": family, "sex": sex, "dob": dob})
            if rng.random() < 0.05:  # twins
                twin_sex = rng.choice("mf")
                # Parents do not give twins two forms of one name (Tomos and Thomas).
                names = [n for n in GIVEN[twin_sex] if not (fold(n) == fold(given) or same_name_group(fold(n), fold(given)))]
                household.append({"given": rng.choice(names), "family": family, "sex": twin_sex, "dob": dob,
                                  "twin_of": len(household) - 1})
        base = len(people)
        for person in household:
            person.update(postcode=postcode, street=street, nhs=nhs_number(rng), id=len(people))
            if "twin_of" in person:
                person["twin_of"] += base
            people.append(person)
    return people[:count]


def observe(rng: random.Random, person: dict, source: str, record_id: int) -> tuple[dict, int]:
    given, family, dob = person["given"], person["family"], person["dob"]
    if rng.random() < 0.15 and given in VARIANTS:
        given = rng.choice(VARIANTS[given])
    if rng.random() < 0.3:
        given = given.replace("â", "a").replace("ŷ", "y")
    if rng.random() < 0.05:
        given = typo(rng, given)
    if rng.random() < 0.04:
        family = typo(rng, family)
    if "-" in family and rng.random() < 0.4:
        family = family.replace("-", " ") if rng.random() < 0.5 else family.split("-")[1]
    if rng.random() < 0.03 and dob.day <= 12:
        dob = date(dob.year, dob.day, dob.month)
    elif rng.random() < 0.02:
        dob = dob + timedelta(days=rng.choice([-1, 1]))
    if rng.random() < 0.02:
        given, family = family, given
    has_nhs = source == "health" or (source == "la" and rng.random() < 0.7) or rng.random() < 0.1
    nhs = person["nhs"] if has_nhs else ""
    if nhs and rng.random() < 0.01:
        nhs = nhs[:-1] + str((int(nhs[-1]) + 1) % 10)  # mistyped: fails its check digit, ignored
    moved = rng.random() < 0.08
    record = {
        "source": source, "given_name": given, "family_name": family,
        "date_of_birth": dob.strftime(rng.choice(["%Y-%m-%d", "%d/%m/%Y"])) if rng.random() > 0.03 else "",
        "sex": person["sex"] if rng.random() > 0.05 else "", "nhs_number": nhs,
        "postcode": "" if rng.random() < 0.1 else (rng.choice(DISTRICTS) + " 1AA" if moved else person["postcode"]),
        "address_line": person["street"] if rng.random() < 0.5 else "", "town": "",
    }
    return record, person["id"]



def observations(rng: random.Random, people: list[dict]) -> list[tuple[dict, int]]:
    """Every person seen by each agency with that agency's likelihood, shuffled."""
    seen = []
    for person in people:
        for source in ("police", "health", "school", "la"):
            if rng.random() < (0.9 if source == "health" else 0.6):
                seen.append(observe(rng, person, source, len(seen)))
    rng.shuffle(seen)
    return seen
