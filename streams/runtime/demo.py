"""A realistic demo day: police, local-authority and health events about Welsh and English families.

Inputs: a seed and the current time. Outputs: JSON lines (``demo_day``) covering every event
type, with a few deliberately broken events, and ``publish_demo_day`` which sends them raw
(so the broken ones reach the dead-letter topics, as a faulty producer's would). Guarantee:
deterministic for a seed and a time; event ids differ between two times (a demo day published again
later is new events, not old ids reused); every timestamp is in the past; identifiers pass their check digits.
All people are invented.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import date, datetime, timedelta

from streams.kafka.topics import Topology

GIVEN_GIRLS = ["Siân", "Cerys", "Megan", "Elin", "Gwen", "Ffion", "Alys", "Nia", "Lowri", "Olivia", "Amelia", "Isla", "Lily", "Seren"]
GIVEN_BOYS = ["Dafydd", "Rhys", "Gruffydd", "Osian", "Tomos", "Harri", "Llywelyn", "Ioan", "Jack", "Noah", "Oliver", "Alfie", "Jac", "Cai"]
ADULT_WOMEN = ["Catrin", "Rhian", "Sarah", "Emma", "Bethan", "Laura", "Sioned"]
ADULT_MEN = ["Gareth", "Huw", "Mark", "Daniel", "Aled", "Craig", "Rhodri"]
FAMILY = ["Jones", "Williams", "Davies", "Evans", "Thomas", "Roberts", "Hughes", "Lewis", "Morgan", "Griffiths",
          "Price", "Powell", "Pritchard", "Bevan", "Smith", "Taylor", "Parry-Jones", "ap Dafydd"]
TOWNS = [("Llandrindod Wells", "LD1"), ("Builth Wells", "LD2"), ("Newtown", "SY16"), ("Welshpool", "SY21"),
         ("Brecon", "LD3"), ("Crickhowell", "NP8"), ("Machynlleth", "SY20"), ("Knighton", "LD7")]
SCHOOLS = [("6662005", "Ysgol Cefnllys"), ("6664031", "Ysgol Calon Cymru"), ("6662210", "Ysgol Gynradd Trefaldwyn"),
           ("6664020", "Crickhowell High School"), ("6662301", "Ysgol Bro Hyddgen"), ("6662118", "Brecon Cylch Meithrin"),
           ("8882040", "Ludlow Church of England School")]  # the last is outside the area: still notified
STREETS = ["Heol y Castell", "Ffordd yr Orsaf", "Stryd Fawr", "Church Street", "Maes y Dderwen", "Station Crescent"]
POLICE = {"agency": "police", "organisation": "Dyfed-Powys Police", "organisation_code": "DPP", "system": "Niche RMS"}
LA = {"code": "W06000023", "name": "Powys County Council", "office_phone": "01597 827666", "emergency_duty_phone": "0345 054 4847"}
LA_SOURCE = {"agency": "local_authority", "organisation": "Powys County Council", "organisation_code": "W06000023", "system": "WCCIS"}
HEALTH_SOURCE = {"agency": "health", "organisation": "Powys Teaching Health Board", "organisation_code": "7A7", "system": "WPAS"}
CARE_SOURCE = {"agency": "care_provider", "organisation": "Bryn Awel Children's Home", "organisation_code": "CP-0193"}
SCHOOL_SOURCE = {"agency": "education", "organisation": "Ysgol Calon Cymru", "organisation_code": "6664031"}


def nhs_number(rng: random.Random) -> str:
    """A random NHS number with a valid modulus-11 check digit."""
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        digits[0] = rng.choice([4, 6, 9])
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1))) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def upn(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRTUVWXYZ"
    body = "666" + "".join(str(rng.randint(0, 9)) for _ in range(9))
    total = sum(w * int(c) for w, c in zip(range(2, 14), body))
    return letters[total % 23] + body


class DemoDay:
    def __init__(self, now: datetime, seed: int = 2026) -> None:
        self.rng = random.Random(seed)
        self.now = now.replace(microsecond=0)
        self.ids = random.Random(f"{seed}:{self.now.isoformat()}")
        self.events: list[dict] = []
        self.households = [self._household(i) for i in range(45)]
        self.ppn_references: list[str] = []

    def _uuid(self) -> str:
        # Mixed with the day's own stream: a demo day published again later (``make up`` a second time on
        # the same data) is a new day's events, not the first day's ids reused with other content, which
        # the pipeline rightly parks. The same seed and time still give the same bytes.
        return str(uuid.UUID(int=self.rng.getrandbits(128) ^ self.ids.getrandbits(128), version=4))

    def _when(self, hours_ago_max: float = 20.0, hours_ago_min: float = 0.2) -> datetime:
        return self.now - timedelta(hours=self.rng.uniform(hours_ago_min, hours_ago_max))

    def _household(self, index: int) -> dict:
        rng = self.rng
        family = rng.choice(FAMILY)
        town, district = rng.choice(TOWNS)
        postcode = f"{district} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXY')}{rng.choice('ABDEFGHJLNPQRSTUWXY')}"
        address = {"lines": [f"{rng.randint(1, 90)} {rng.choice(STREETS)}"], "town": town, "postcode": postcode}
        language = rng.choice(["cy", "en", "en", None])
        children = []
        for n in range(rng.choice([1, 1, 2, 2, 3])):
            girl = rng.random() < 0.5
            age_days = rng.randint(60, 16 * 365)
            dob = (self.now - timedelta(days=age_days)).date()
            child = {
                "source_person_id": f"P{index:03d}{n}", "given_names": rng.choice(GIVEN_GIRLS if girl else GIVEN_BOYS),
                "family_name": family, "date_of_birth": dob.isoformat(), "sex": "female" if girl else "male",
                "nhs_number": nhs_number(rng), "address": address, "preferred_language": language,
                "role": "child_in_household",
            }
            if age_days >= 3 * 365:
                if rng.random() < 0.08:
                    child["home_educated"] = True
                elif rng.random() < 0.9:
                    code, name = rng.choice(SCHOOLS)
                    child["school"] = {"code": code, "name": name}
                    if age_days >= 5 * 365:
                        child["upn"] = upn(rng)
            children.append({k: v for k, v in child.items() if v is not None})
        adults = [
            {"source_person_id": f"A{index:03d}1", "given_names": rng.choice(ADULT_WOMEN), "family_name": family,
             "date_of_birth": date(rng.randint(1975, 2000), rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
             "sex": "female", "address": address, "role": "victim"},
            {"source_person_id": f"A{index:03d}2", "given_names": rng.choice(ADULT_MEN), "family_name": rng.choice(FAMILY),
             "date_of_birth": date(rng.randint(1970, 2000), rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
             "sex": "male", "role": "alleged_perpetrator"},
        ]
        return {"index": index, "children": children, "adults": adults, "postcode": postcode}

    def _envelope(self, event_type: str, source: dict, occurred: datetime, reference: str | None = None) -> dict:
        recorded = min(self.now, occurred + timedelta(minutes=self.rng.randint(1, 50)))
        return {"event_id": self._uuid(), "event_type": event_type, "schema_version": 1,
                "occurred_at": occurred.isoformat(), "recorded_at": recorded.isoformat(),
                "source": {**source, "reference": reference} if reference else dict(source)}

    def _officer(self) -> dict:
        return {"collar_number": str(self.rng.randint(1000, 9999)), "station": self.rng.choice(["Llandrindod Wells", "Newtown", "Brecon"]),
                "phone": "101"}

    def _voice(self) -> dict | None:
        if self.rng.random() < 0.3:
            return None  # inspections found the child's voice often missing: the demo shows it
        return {"words": self.rng.choice(["I hid under the bed", "Mam was crying", "I want to stay with Nain", "I was scared"]),
                "appearance": "clean, appropriately dressed", "child_seen": True, "child_spoken_to": self.rng.random() < 0.7}

    def build(self) -> list[dict]:
        rng = self.rng
        registered = rng.sample(self.households, 12)
        for house in registered:
            self._register(house)
        for house in rng.sample(self.households, 40):
            self._ppn(house)
        for house in rng.sample(self.households, 25):
            self._domestic_abuse(house)
        for house in rng.sample(self.households, 10):
            self._missing(house)
        for house in registered[:8] + rng.sample(self.households, 10):
            self._attendance(house)
        for reference in self.ppn_references[:20]:
            self._outcome(reference)
        self._outcome("PPN-UNKNOWN-0001")
        self._snapshot(registered)
        self._backlog()
        self._uncertain_identities()
        self._broken()
        return self.events

    def _uncertain_identities(self) -> None:
        """Two children each reported missing by the police and again by a care home under its own id, with day
        and month of birth transposed, at another address and with no NHS number: pairs for the identity review
        queue. Their names and birthdays are fixed (only the year follows the clock), so the pairs land in the
        review band on any day the demo runs."""
        for number, (given, family, typed, sex, month, day) in enumerate((("Megan", "Jones", "Jones", "female", 3, 5),
                                                                          ("Rhys", "Davies", "Daveis", "male", 4, 9))):
            born = date(self.now.year - 7 - number, month, day)
            child = {"source_person_id": f"DPP-R{number}", "given_names": given, "family_name": family, "sex": sex,
                     "date_of_birth": born.isoformat(), "role": "child_in_household",
                     "address": {"lines": [f"{20 + number} Heol y Castell"], "town": "Llandrindod Wells", "postcode": "LD1 5LG"}}
            again = {**child, "source_person_id": f"CH-R{number}", "date_of_birth": date(born.year, day, month).isoformat(),
                     "family_name": typed,
                     "address": {"lines": ["3 Stryd Fawr"], "town": "Haverfordwest", "postcode": "SA61 1TP"}}
            for source, person, hours in ((POLICE, child, 9), (CARE_SOURCE, again, 3)):
                occurred = self.now - timedelta(hours=hours)
                reference = f"MISS-REVIEW-{number + 1}-{source['organisation_code']}"
                event = self._envelope("missing.reported", source, occurred, reference)
                event.update({"episode_reference": reference, "child": person, "risk_level": "medium",
                              "last_seen_at": (occurred - timedelta(hours=1)).isoformat(),
                              "looked_after": source is CARE_SOURCE})
                self.events.append(event)

    def _backlog(self) -> None:
        """Older events whose deadlines have passed, so the overdue panels show what a real backlog looks like."""
        old = self.households[1]
        child = old["children"][0]
        reported = self.now - timedelta(days=2)
        event = self._envelope("missing.reported", POLICE, reported, "MISS-BACKLOG-1")
        event.update({"episode_reference": "MISS-BACKLOG-1", "child": child, "last_seen_at": (reported - timedelta(hours=2)).isoformat(),
                      "risk_level": "high"})
        self.events.append(event)  # no PPN follows: alert after 24 h
        gone = self.now - timedelta(days=5)
        for episode, when, kind in (("MISS-BACKLOG-2", gone, "missing.reported"), ("MISS-BACKLOG-2", gone + timedelta(hours=6), "missing.returned")):
            item = self._envelope(kind, CARE_SOURCE, when, episode)
            item.update({"episode_reference": episode, "child": child, "ppn_reference": "PPN-BACKLOG-2"} if kind == "missing.reported"
                        else {"episode_reference": episode, "child": child, "returned_at": when.isoformat()})
            if kind == "missing.reported":
                item.update({"last_seen_at": when.isoformat(), "risk_level": "medium", "looked_after": True})
            self.events.append(item)  # returned five days ago, no return interview recorded: alert after 72 h
        incident_at = self.now - timedelta(days=6)
        schooled = [c for h in self.households for c in h["children"] if c.get("school")][:1]
        da = self._envelope("domestic_abuse.reported", POLICE, incident_at, "DA-BACKLOG-1")
        da.update({"incident_reference": "DA-BACKLOG-1", "attended_at": incident_at.isoformat(), "risk_level": "medium",
                   "children": [{**schooled[0], "present_at_incident": True}], "adults": old["adults"]})
        self.events.append(da)  # the school never acknowledged: escalated
        ppn_at = self.now - timedelta(days=12)
        ppn = self._envelope("ppn.submitted", POLICE, ppn_at, "PPN-BACKLOG-3")
        ppn.update({"ppn_reference": "PPN-BACKLOG-3", "category": "child_concern", "risk_level": "high",
                    "persons": old["children"][:1], "summary": "Concern raised by a neighbour.", "officer": self._officer()})
        self.events.append(ppn)  # never triaged and no outcome: both deadlines breached

    def _register(self, house: dict) -> None:
        child = house["children"][0]
        occurred = self._when(20, 12)
        event = self._envelope("cpr.registered", LA_SOURCE, occurred, f"CPR-{house['index']:04d}")
        event.update({"child": child, "local_authority": LA, "categories": self.rng.sample(["neglect", "physical", "emotional", "sexual"], self.rng.choice([1, 2])),
                      "registered_on": occurred.date().isoformat(), "plan_reference": f"CASPP-{house['index']:04d}", "sequence": 1,
                      "key_worker": {"name": "Key Worker " + str(house["index"]), "team": "Child Protection Team North", "phone": "01597 826000",
                                     "email": f"kw{house['index']}@powys.example.gov.uk"}})
        self.events.append(event)
        if self.rng.random() < 0.4:
            amended = self._envelope("cpr.amended", LA_SOURCE, occurred + timedelta(hours=2), f"CPR-{house['index']:04d}")
            amended.update({"child": child, "local_authority": LA, "categories": ["neglect", "emotional"], "sequence": 2})
            self.events.append(amended)

    def _ppn(self, house: dict) -> None:
        occurred = self._when(18, 1)
        reference = f"PPN-2026-{house['index']:04d}{self.rng.randint(10, 99)}"
        self.ppn_references.append(reference)
        event = self._envelope("ppn.submitted", POLICE, occurred, reference)
        event.update({"ppn_reference": reference, "category": self.rng.choice(["domestic_abuse", "child_concern", "exploitation", "child_concern", "missing_child"]),
                      "risk_level": self.rng.choice(["standard", "standard", "medium", "high"]),
                      "persons": house["children"] + house["adults"][:1], "summary": "Officers attended following a call from a neighbour.",
                      "officer": self._officer(), "incident_reference": f"INC-{house['index']:04d}-{self.rng.randint(100, 999)}",
                      "location_postcode": house["postcode"]})
        voice = self._voice()
        if voice:
            event["voice_of_child"] = voice
        self.events.append(event)

    def _domestic_abuse(self, house: dict) -> None:
        occurred = self._when(16, 1)
        reference = f"DA-2026-{house['index']:04d}{self.rng.randint(10, 99)}"
        children = [{**child, "present_at_incident": self.rng.random() < 0.6, "where_present": self.rng.choice(["living room", "bedroom", None])}
                    for child in house["children"]]
        event = self._envelope("domestic_abuse.reported", POLICE, occurred, reference)
        event.update({"incident_reference": reference, "attended_at": (occurred + timedelta(minutes=25)).isoformat(),
                      "location_postcode": house["postcode"], "risk_level": self.rng.choice(["standard", "medium", "high"]),
                      "children": [{k: v for k, v in c.items() if v is not None} for c in children], "adults": house["adults"],
                      "officer": self._officer()})
        voice = self._voice()
        if voice:
            event["voice_of_child"] = voice
        self.events.append(event)

    def _missing(self, house: dict) -> None:
        child = house["children"][-1]
        occurred = self._when(15, 3)
        episode = f"MISS-{house['index']:04d}"
        from_home = self.rng.random() < 0.4
        source = CARE_SOURCE if from_home else POLICE
        event = self._envelope("missing.reported", source, occurred, episode)
        event.update({"episode_reference": episode, "child": child, "last_seen_at": (occurred - timedelta(hours=1)).isoformat(),
                      "last_seen_location": "town centre", "risk_level": self.rng.choice(["medium", "high"]),
                      "looked_after": from_home, "profile_reference": f"CIF-{house['index']:04d}" if from_home else None})
        self.events.append({k: v for k, v in event.items() if v is not None})
        if self.rng.random() < 0.8:
            returned = self._envelope("missing.returned", source, occurred + timedelta(hours=2), episode)
            returned.update({"episode_reference": episode, "child": child, "returned_at": (occurred + timedelta(hours=2)).isoformat(),
                             "found_location": "friend's house"})
            self.events.append(returned)

    def _attendance(self, house: dict) -> None:
        child = house["children"][0]
        occurred = self._when(10, 0.5)
        event = self._envelope("unscheduled_care.attended", HEALTH_SOURCE, occurred)
        event.update({"attendance_reference": f"ATT-{self.rng.randint(100000, 999999)}", "child": child,
                      "site": self.rng.choice([{"name": "Llandrindod Wells MIU", "code": "7A7MIU1", "type": "MIU"},
                                               {"name": "Brecon War Memorial MIU", "code": "7A7MIU2", "type": "MIU"},
                                               {"name": "Shropdoc OOH", "code": "OOH01", "type": "OOH GP"}]),
                      "attended_at": occurred.isoformat()})
        self.events.append(event)

    def _outcome(self, reference: str) -> None:
        occurred = self._when(1, 0.1)
        event = self._envelope("referral.outcome", LA_SOURCE, occurred)
        event.update({"referral_reference": reference, "decision": self.rng.choice(["no_further_action", "information_advice_assistance",
                                                                                     "care_and_support_assessment", "strategy_discussion"]),
                      "rationale": "Threshold considered at the front door.", "decided_at": occurred.isoformat(),
                      "contact": {"team": "Powys front door (MASH)", "phone": "01597 827666"}})
        self.events.append(event)

    def _snapshot(self, registered: list[dict]) -> None:
        event = self._envelope("cpr.snapshot", LA_SOURCE, self._when(0.5, 0.1))
        event.update({"local_authority": LA, "as_of": event["occurred_at"],
                      "children": [{"child": house["children"][0], "categories": ["neglect"]} for house in registered]})
        self.events.append(event)

    def _broken(self) -> None:
        """Events a faulty producer might send; each must be parked with a clear reason."""
        house = self.households[0]
        occurred = self._when(5, 1)
        bad_nhs = self._envelope("unscheduled_care.attended", HEALTH_SOURCE, occurred)
        bad_nhs.update({"attendance_reference": "ATT-BAD-1", "child": {**house["children"][0], "nhs_number": "943 476 5910"},
                        "site": {"name": "Llandrindod Wells MIU", "code": "7A7MIU1", "type": "MIU"}, "attended_at": occurred.isoformat()})
        low_risk = self._envelope("missing.reported", POLICE, occurred, "MISS-LOW")
        low_risk.update({"episode_reference": "MISS-LOW", "child": house["children"][0], "last_seen_at": occurred.isoformat(), "risk_level": "low"})
        no_child = self._envelope("ppn.submitted", POLICE, occurred, "PPN-ADULT-1")
        no_child.update({"ppn_reference": "PPN-ADULT-1", "category": "adult_at_risk", "risk_level": "standard", "persons": house["adults"][:1]})
        future = self._envelope("cpr.registered", LA_SOURCE, occurred)
        future.update({"child": house["children"][0], "local_authority": LA, "categories": ["neglect"],
                       "registered_on": (self.now + timedelta(days=30)).date().isoformat()})
        self.events += [bad_nhs, low_risk, no_child, future]
        self.events.append({"__raw__": '{"event_type": "ppn.submitted", "event_id": '})  # truncated JSON
        self.events.append({**self._envelope("school.absence", SCHOOL_SOURCE, occurred), "pupil": "x"})


def demo_day(now: datetime, seed: int = 2026) -> list[bytes]:
    """The demo events as JSON lines (broken ones included)."""
    lines = []
    for event in DemoDay(now, seed).build():
        lines.append(event["__raw__"].encode() if "__raw__" in event else json.dumps(event, ensure_ascii=False).encode())
    return lines


def demo_school_directory(engine) -> int:  # type: ignore[no-untyped-def]
    """The demo's schools with made-up designated safeguarding leads and deputies (``*.school.example``), so its
    notices are e-mailed (to the embedded mail capture) as a real area's would be: Welsh-medium schools read
    them in Welsh, the school over the border in English, the rest bilingually."""
    from sqlmodel import Session

    from sinks.models import School

    with Session(engine) as session:
        for code, name in SCHOOLS:
            language = "en" if code.startswith("888") else "cy" if name.startswith("Ysgol") else "cy+en"
            session.merge(School(school_code=code, name=name, local_authority_code=None if code.startswith("888") else LA["code"],
                                 dsl_email=f"dsl@{code}.school.example", deputy_dsl_email=f"deputy.dsl@{code}.school.example",
                                 language=language))
        session.commit()
    return len(SCHOOLS)


def demo_phases(topology: Topology, now: datetime, seed: int = 2026) -> list[list[tuple[str, bytes | None, bytes]]]:
    """The demo day as (topic, key, value) messages in three phases: register changes, the day's
    events, then referral outcomes. A real day spreads these over hours; published phase by phase
    (each processed before the next), flags exist before today's attendances meet them and
    referrals are recorded before their outcomes come back."""
    from schemas import parse_event
    from streams.identity.keys import partition_key

    register, day, outcomes = [], [], []
    for line in demo_day(now, seed):
        try:
            event_type = json.loads(line).get("event_type", "")
            topic = topology.topic_for(event_type).name
        except (ValueError, KeyError, AttributeError):
            event_type, topic = "", topology.inbound[0].name  # broken on purpose: parked by intake
        try:
            key = partition_key(parse_event(line, now))
        except ValueError:
            key = None
        if event_type in ("cpr.registered", "cpr.amended", "cpr.deregistered"):
            register.append((topic, key, line))
        elif event_type == "referral.outcome":
            outcomes.append((topic, key, line))
        else:
            day.append((topic, key, line))
    return [register, day, outcomes]
