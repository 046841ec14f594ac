"""Operation Encompass: the right schools, the right deadline, minimal content, e-mail, inbox, escalation."""

import json
import re
from datetime import datetime, timezone

import pytest
from sqlmodel import Session, select

from schemas.examples import EXAMPLES, example
from sinks.models import EncompassNotice
from streams.encompass.email import dispatch_emails, render_email
from streams.encompass.notices import acknowledge, list_notices, readable
from streams.encompass.schools import load_directory, load_roll
from streams.services import build_email_sink
from tests.smtp import SmtpServer
from tests.unit.helpers import contents, deliveries, fire_at, run, with_settings

FRIDAY_22 = "2026-11-20T22:00:00+00:00"
CHILD = EXAMPLES["domestic_abuse.reported"]["children"][0]


def incident(children: list[dict], **changes) -> dict:
    return example("domestic_abuse.reported", children=children, occurred_at=FRIDAY_22, attended_at=FRIDAY_22,
                   recorded_at=FRIDAY_22, **changes)


def pupil(source_id: str, school: str | None, dob: str = "2016-05-14", **extra) -> dict:
    child = {k: v for k, v in CHILD.items() if k not in ("school", "upn", "nhs_number")}
    child.update(source_person_id=source_id, date_of_birth=dob, **extra)
    if school:
        child["school"] = {"code": school, "name": f"School {school}"}
    return child


@pytest.fixture
def watch(services):
    return services.watch


def notices(engine) -> list[EncompassNotice]:
    with Session(engine) as session:
        return list(session.exec(select(EncompassNotice)))


class TestNotices:
    def test_friday_night_incident_three_children(self, engine, policy, sinks, settings, services):
        """Two schools get a notice each, due 09:00 Monday; the home-educated child goes to children's services."""
        run(services, [incident([pupil("C1", "6662005"), pupil("C2", "8882040"),
                                                        pupil("C3", None, home_educated=True)])])
        sent = sorted((d.recipient, d.subject_key) for d in deliveries(engine, "education"))
        assert sent == [("6662005", "src:DPP:C1"), ("8882040", "src:DPP:C2")]
        powys = next(n for n in notices(engine) if n.school_code == "6662005")
        assert powys.notify_by.replace(tzinfo=timezone.utc) == datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
        assert powys.escalate_at.replace(tzinfo=timezone.utc) == datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
        home = [c for c in contents(engine, "childrens_services") if c.get("why_not_school")]
        assert [c["why_not_school"] for c in home] == ["home_educated"]

    def test_baby_goes_to_childrens_services_even_with_a_setting(self, engine, policy, sinks, settings, services):
        """A one-year-old is below early-years age: no school notice."""
        run(services, [incident([pupil("B1", "6662118", dob="2025-06-01")])])
        assert deliveries(engine, "education") == []
        assert [c["why_not_school"] for c in contents(engine, "childrens_services") if "why_not_school" in c] == ["below_early_years_age"]

    def test_school_comes_from_the_roll_by_upn_when_the_event_has_none(self, engine, policy, sinks, settings, tmp_path, services):
        """A child with a UPN on the roll is notified to the roll's school; a name match alone is never used."""
        roll = tmp_path / "roll.csv"
        roll.write_text("school_code,upn,nhs_number\n6664031,F801200100001,\n")
        assert load_roll(engine, roll) == (1, [])
        run(services, [incident([pupil("R1", None, upn="F801200100001"), pupil("R2", None)])])
        [notice] = deliveries(engine, "education")
        assert notice.recipient == "6664031" and json.loads(notice.content_json)["school"]["code"] == "6664031"

    def test_domestic_abuse_ppn_notifies_the_school_and_other_categories_do_not_by_default(self, engine, policy, sinks, settings, services):
        """A PPN of category domestic_abuse produces a notice; an exploitation PPN does not unless configured."""
        run(services, [example("ppn.submitted", category="domestic_abuse")])
        run(services, [example("ppn.submitted", category="exploitation", ppn_reference="PPN-EX")])
        assert [d.rule for d in deliveries(engine, "education")] == ["ppn.education.encompass_notice"]

    def test_wider_offences_extension(self, engine, policy, sinks, tmp_path, services):
        """With exploitation configured as a wider offence, the pupil's school is told under the same minimisation."""
        from streams.settings import Settings

        wider = Settings(_env_file=None, data_dir=tmp_path, encompass_wider_categories=["exploitation"])
        run(with_settings(services, wider), [example("ppn.submitted", category="exploitation")])
        [notice] = deliveries(engine, "education")
        assert notice.rule == "ppn.education.wider_offence_notice"
        assert "summary" not in json.loads(notice.content_json) and "risk_level" not in json.loads(notice.content_json)


class TestInboxAndEscalation:
    def test_a_school_sees_and_acknowledges_only_its_own_notices(self, engine, policy, sinks, settings, watch, services, clock):
        """Listing is per school; acknowledging another school's notice is 404; acknowledging is idempotent."""
        run(services, [incident([pupil("C1", "6662005"), pupil("C2", "8882040")])])
        mine = list_notices(engine, policy, "6662005", clock.now())
        theirs = list_notices(engine, policy, "8882040", clock.now())
        assert len(mine) == len(theirs) == 1 and mine[0]["notice"]["child"]["given_names"] == CHILD["given_names"]
        assert acknowledge(engine, watch, sinks, "6662005", theirs[0]["notice_id"], "6662005", clock.now())[0] == 404
        assert acknowledge(engine, watch, sinks, "6662005", mine[0]["notice_id"], "6662005", clock.now())[0] == 200
        assert acknowledge(engine, watch, sinks, "6662005", mine[0]["notice_id"], "6662005", clock.now())[0] == 200
        assert list_notices(engine, policy, "6662005", clock.now())[0]["status"] == "acknowledged"

    def test_unacknowledged_notice_escalates_at_ten_and_a_late_acknowledgement_resolves(self, engine, policy, sinks, settings, watch, services, clock):
        """No acknowledgement by 10:00 Monday: police and the authority are alerted once; acknowledging later resolves it."""
        run(services, [incident([pupil("C1", "6662005")])])
        assert fire_at(services, datetime(2026, 11, 23, 9, 59, tzinfo=timezone.utc)) == 0
        assert fire_at(services, datetime(2026, 11, 23, 10, 1, tzinfo=timezone.utc)) == 2
        assert fire_at(services, datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)) == 0
        deadline_alerts = [d for d in deliveries(engine, "alerts") if d.rule == "watch.alerts.deadline"]
        assert sorted(d.recipient for d in deadline_alerts) == ["DPP", "W06000023"]
        notice_id = notices(engine)[0].notice_id
        acknowledge(engine, watch, sinks, "6662005", notice_id, "6662005", clock.now())
        statuses = sorted(json.loads(d.content_json)["status"] for d in deliveries(engine, "alerts")
                          if d.rule == "watch.alerts.deadline")
        assert statuses == ["breached", "breached", "resolved", "resolved"]

    def test_a_school_with_no_usable_address_is_reported_at_once_not_at_ten(self, engine, policy, sinks, settings, services):
        """Not on the directory: the police force and the authority are told when the notice is made, to telephone."""
        run(services, [incident([pupil("C1", "6662005")])])
        told = [d for d in deliveries(engine, "alerts") if d.rule == "encompass.alerts.school_unreachable"]
        assert sorted(d.recipient for d in told) == ["DPP", "W06000023"]
        content = json.loads(told[0].content_json)
        assert content["school_code"] == "6662005" and "not on the school directory" in content["reason"]
        assert CHILD["given_names"] not in told[0].content_json  # identifiers only


class TestEmail:
    def test_email_carries_the_minimised_notice_and_no_names_in_the_subject(self, engine, policy, sinks, settings, tmp_path, services, clock):
        """The DSL's e-mail holds the child's details and police contact, never adults, and a safe subject."""
        directory = tmp_path / "schools.csv"
        directory.write_text("school_code,name,local_authority_code,dsl_email\n6662005,Ysgol Cefnllys,W06000023,dsl@cefnllys.example\n")
        load_directory(engine, directory)
        run(services, [incident([pupil("C1", "6662005")])])
        with SmtpServer() as smtp:
            configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False})
            email = build_email_sink(configured)
            assert dispatch_emails(engine, email, configured, policy, sinks, clock.now()) == 1
            assert dispatch_emails(engine, email, configured, policy, sinks, clock.now()) == 0
        [message] = smtp.handler.messages
        body = message.get_payload(decode=True).decode()
        assert message["To"] == "dsl@cefnllys.example" and "Bcc" not in message
        subject = re.sub(r"\r?\n[ \t]", " ", message["Subject"])  # a long header is folded, which is not a new line
        assert "\n" not in subject and CHILD["given_names"] not in subject and "DA-2026-7781" in subject
        assert CHILD["given_names"] in body and "Rhian" not in body and "Mark" not in body and "high" not in body

    def test_refusing_server_is_retried_and_alerts_after_repeated_failure(self, engine, policy, sinks, settings, tmp_path, services, clock):
        """Temporary refusals back off and retry; the third failure raises one alert; a later attempt succeeds."""
        from datetime import timedelta

        directory = tmp_path / "schools.csv"
        directory.write_text("school_code,name,dsl_email\n6662005,Ysgol Cefnllys,dsl@cefnllys.example\n")
        load_directory(engine, directory)
        run(services, [incident([pupil("C1", "6662005")])])
        now = clock.now()
        with SmtpServer() as smtp:
            smtp.handler.refuse = 3
            configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False,
                                                     "email_retry_first_seconds": 1})
            for _ in range(5):
                dispatch_emails(engine, build_email_sink(configured), configured, policy, sinks, now)
                now += timedelta(minutes=5)
        assert len(smtp.handler.messages) == 1
        [alert] = [json.loads(d.content_json) for d in deliveries(engine, "alerts")]
        assert "e-mail keeps failing" in alert["alert"]
        assert notices(engine)[0].email_status == "sent"

    def test_render_collapses_header_breaks(self, policy):
        """A reference carrying CR/LF cannot inject a header."""
        at = datetime(2026, 11, 20, 22, tzinfo=timezone.utc)
        notice = EncompassNotice(notice_id="n1", school_code="6662005", attended_at=at, notify_by=at, escalate_at=at,
                                 created_at=at)
        text = readable(policy, notice, {"police_reference": "DA-1\r\nBcc: x@evil.example"}, None)
        message = render_email(notice, text, "dsl@school.example", "from@x.example")
        assert "Bcc" not in message and "\n" not in message["Subject"]

    def test_the_deputy_takes_the_notice_when_the_lead_address_is_refused_or_absent(self, engine, policy, sinks, settings,
                                                                                    tmp_path, services, clock):
        """The lead's address refused: the same attempt e-mails the deputy; no lead address at all: the deputy too."""
        directory = tmp_path / "schools.csv"
        directory.write_text("school_code,name,dsl_email,deputy_dsl_email,language\n"
                             "6662005,Ysgol Cefnllys,dsl@cefnllys.example,deputy@cefnllys.example,cy\n"
                             "8882040,Ludlow School,,deputy@ludlow.example,en\n")
        assert load_directory(engine, directory) == (2, [])
        run(services, [incident([pupil("C1", "6662005"), pupil("C2", "8882040")])])
        assert not [d for d in deliveries(engine, "alerts") if d.rule == "encompass.alerts.school_unreachable"]
        with SmtpServer() as smtp:
            smtp.handler.refuse_to = {"dsl@cefnllys.example"}
            configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False})
            assert dispatch_emails(engine, build_email_sink(configured), configured, policy, sinks, clock.now()) == 2
        assert sorted(m["To"] for m in smtp.handler.messages) == ["deputy@cefnllys.example", "deputy@ludlow.example"]
        assert sorted(n.email_sent_to for n in notices(engine)) == ["deputy", "deputy"]
        welsh = next(m for m in smtp.handler.messages if m["To"] == "deputy@cefnllys.example")
        english = next(m for m in smtp.handler.messages if m["To"] == "deputy@ludlow.example")
        assert welsh["Content-Language"] == "cy" and "Cydnabyddwch erbyn 10:00, Dydd Llun 23 Tachwedd 2026" in welsh.get_payload(decode=True).decode()
        assert english["Content-Language"] == "en" and "Acknowledge by 10:00 on Monday 23 November 2026" in english.get_payload(decode=True).decode()

    def test_a_bilingual_school_reads_welsh_first_then_english(self, engine, policy, sinks, settings, tmp_path, services, clock):
        """cy+en: one notice, Welsh first; the subject in both; the child's preferred language is offered."""
        directory = tmp_path / "schools.csv"
        directory.write_text("school_code,name,dsl_email,language\n6662005,Ysgol Cefnllys,dsl@cefnllys.example,CY+EN\n")
        load_directory(engine, directory)
        run(services, [incident([pupil("C1", "6662005", preferred_language="cy")])])
        [listed] = list_notices(engine, policy, "6662005", clock.now())
        text = listed["readable"]["text"]
        assert listed["readable"]["language"] == "cy+en" and listed["notice"]["child"]["preferred_language"] == "cy"
        assert text.index("Cydnabyddwch erbyn") < text.index("Acknowledge by")
        assert "Dewis iaith: Cymraeg" in text and "Preferred language: Welsh" in text
        assert listed["readable"]["title"].startswith("Hysbysiad Ymgyrch Encompass") and " / Operation Encompass notice" in \
            listed["readable"]["title"]

    def test_a_bad_language_or_address_in_the_directory_is_refused_naming_the_column(self, engine, tmp_path):
        directory = tmp_path / "schools.csv"
        directory.write_text("school_code,name,dsl_email,deputy_dsl_email,language\n"
                             "1,One,a@b.example,,fr\n2,Two,a@b.example,not-an-address,en\n")
        loaded, rejected = load_directory(engine, directory)
        assert loaded == 0 and [n for n, _ in rejected] == [2, 3]
        assert "language" in rejected[0][1] and "deputy_dsl_email" in rejected[1][1]


def test_a_young_person_of_18_is_not_an_encompass_child(services):
    """Eighteen on the day of the incident: an adult, so no school notice (a 17-year-old still gets one)."""
    from tests.unit.helpers import deliveries as delivered

    event = incident([pupil("C18", "6662005", dob="2008-11-01"), pupil("C17", "6662005", dob="2009-11-01")])
    run(services, [event])
    notices = [d for d in delivered(services.engine, "education")]
    assert [json.loads(d.content_json)["child"]["date_of_birth"] for d in notices] == ["2009-11-01"]


def test_a_16_or_17_year_old_victim_of_relationship_abuse_is_also_a_child_for_notification(services):
    """Teenage relationship abuse: the 17-year-old victim listed among the adults gets her own school's notice; a
    17-year-old alleged perpetrator, an 18-year-old victim and a victim of unknown age do not; a victim listed as a
    child as well is notified once."""
    from tests.unit.helpers import deliveries as delivered

    def adult(source_id: str, role: str, dob: str | None, school: str | None) -> dict:
        person = {"source_person_id": source_id, "given_names": "Person", "family_name": source_id, "role": role}
        if dob:
            person["date_of_birth"] = dob
        if school:
            person["school"] = {"code": school, "name": f"School {school}"}
        return person

    event = incident([pupil("SIB", "6664031")], adults=[
        adult("V17", "victim", "2009-06-01", "6662005"), adult("P17", "alleged_perpetrator", "2009-03-01", "6662210"),
        adult("V18", "victim", "2008-06-01", "6664020"), adult("VNODOB", "victim", None, "6662301")])
    run(services, [event])
    told = sorted((d.recipient, d.subject_key) for d in delivered(services.engine, "education"))
    assert told == [("6662005", "src:DPP:V17"), ("6664031", "src:DPP:SIB")]
    [victim_notice] = [json.loads(d.content_json) for d in delivered(services.engine, "education") if d.recipient == "6662005"]
    assert victim_notice["child"]["family_name"] == "V17" and "P17" not in json.dumps(victim_notice)

    twice = incident([pupil("V16", "6662118", dob="2010-02-01")],
                     adults=[dict(adult("V16", "victim", "2010-02-01", "6662118"), given_names=CHILD["given_names"],
                                  family_name=CHILD["family_name"])], incident_reference="DA-2026-0002")
    run(services, [twice])
    assert [d.subject_key for d in delivered(services.engine, "education")].count("src:DPP:V16") == 1
