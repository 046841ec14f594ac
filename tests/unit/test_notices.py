"""The notices people read: every template renders in Welsh and in English from the values its recipient may see."""

from __future__ import annotations

import pytest

from streams.deadlines.watch import RULES
from streams.notices.languages import RecipientLanguages
from streams.notices.render import TEMPLATES_FILE, Notices, TemplateProblem

# A value for every field an operation of the policy may carry (the policy's `fields`), as the code fills them.
SAMPLE = {
    "alert": "label", "notification": "label", "dead_letter_id": "DL-1", "topic": "safeguarding.inbound.ppn", "partition": 0,
    "offset": 17, "event_id": "E-1", "event_type": "person.merged", "reason": "nhs_number: fails modulus-11",
    "field_path": "persons.0.nhs_number", "nhs_number": "9434765919", "child": {"given_names": "Siân", "nhs_number": "9434765919"},
    "looked_up_by": "W11000024", "role": "clinician", "looked_up_at": "2026-11-20T22:00:00+00:00",
    "register_key_worker": {"key_worker": {"name": "A Worker"}, "plan_reference": "CP-1"}, "watch_rule": "ppn_triage",
    "status": "breached", "subject_key": "nhs:9434765919", "master_person_id": "P1", "reference": "PPN-1",
    "due_at": "2026-11-23T10:00:00+00:00", "evidence": {"ppn_reference": "PPN-1"}, "incident_type": "ppn.submitted",
    "occurred_at": "2026-11-20T22:00:00+00:00", "register_action": "remove", "flag": {"plan_reference": "CP-1"},
    "marker": {"local_authority": {"code": "W06000023"}, "categories": ["neglect"]}, "review_id": "R-1", "record_key": "K-1",
    "record_subject_key": "src:DPP:1", "candidate_person_id": "P2", "candidate_subject_keys": ["nhs:9434765919"],
    "score": 12.5, "urgency": "urgent", "survivor_person_id": "P1", "absorbed_person_id": "P2", "records_moved": 3,
    "cause": "operator confirm", "change_seq": 4, "recalls_delivery_id": "D-1", "recalled_rule": "rule.id",
    "recalled_source_event_id": "E-0", "recalled_sink": "childrens_services", "recalled_recipient": "W06000023",
    "client": "203.0.113.9", "refusals": 20, "window_seconds": 60, "notice_id": "N-1", "school_code": "6662005",
    "police_reference": "DA-1",
}
ENCOMPASS = {"police_reference": "DA-1", "child_name": "Siân Jones", "date_of_birth": "2016-05-14", "upn": "A123",
             "preferred_language": "cy", "school_name": "Ysgol Cefnllys", "school_code": "6662005",
             "occurred_at": "2026-11-20T22:00:00+00:00", "attended_at": "2026-11-20T22:30:00+00:00", "present": True,
             "where_present": "upstairs", "voice_of_child": "scared", "police_contact": "PC 1, 101", "notice_id": "N-1",
             "acknowledge_by": "2026-11-23T10:00:00+00:00"}


@pytest.fixture(scope="module")
def notices():
    return Notices.load()


def test_every_operation_of_the_policy_renders_in_both_languages_with_no_missing_value(policy, notices):
    """Each operation's template, given exactly the fields the policy lets it carry, renders in cy, en and cy+en."""
    for name, operation in policy.operations.items():
        values = {field: SAMPLE[field] for field in operation.fields}
        welsh, english = notices.render(name, "cy", values), notices.render(name, "en", values)
        both = notices.render(name, "cy+en", values)
        assert welsh["title"] and english["title"] and welsh["text"] != english["text"], name
        assert both["text"].index(welsh["text"].splitlines()[0]) < both["text"].index(english["text"].splitlines()[0])
        assert both["title"] == f"{welsh['title']} / {english['title']}"


def test_the_encompass_notice_renders_in_both_languages_and_says_by_when(notices):
    welsh, english = notices.render("encompass_notice", "cy", ENCOMPASS), notices.render("encompass_notice", "en", ENCOMPASS)
    assert english["text"].endswith("Acknowledge by 10:00 on Monday 23 November 2026 in the school inbox.")
    assert welsh["text"].endswith("Cydnabyddwch erbyn 10:00, Dydd Llun 23 Tachwedd 2026 ym mewnflwch yr ysgol.")
    assert "Incident: 22:00 on Friday 20 November 2026" in english["text"]  # UK time, the reader's words
    assert "Date of birth: 14 May 2016" in english["text"] and "Dyddiad geni: 14 Mai 2016" in welsh["text"]  # a date, not midnight
    assert "Preferred language: Welsh" in english["text"] and "Dewis iaith: Cymraeg" in welsh["text"]
    sparse = {k: v for k, v in ENCOMPASS.items() if k not in ("upn", "preferred_language", "voice_of_child", "present",
                                                                 "where_present", "date_of_birth", "child_name", "police_contact")}
    assert "UPN: not recorded" in notices.render("encompass_notice", "en", sparse)["text"]
    assert "Plentyn yn bresennol: heb ei gofnodi" in notices.render("encompass_notice", "cy", sparse)["text"]
    assert "Plentyn: heb ei enwi" in notices.render("encompass_notice", "cy", sparse)["text"]
    assert "Police contact: not recorded" in notices.render("encompass_notice", "en", sparse)["text"]


def test_every_deadline_rule_has_a_title_in_both_languages(notices):
    assert set(RULES) <= set(notices.watch_titles)
    for rule in RULES:
        english = notices.render("deadline_alert", "en", {**SAMPLE, "watch_rule": rule})["title"]
        welsh = notices.render("deadline_alert", "cy", {**SAMPLE, "watch_rule": rule})["title"]
        assert english == notices.watch_titles[rule]["en"] and welsh == notices.watch_titles[rule]["cy"]


def test_a_template_using_a_value_it_was_not_given_is_an_error_not_a_blank(tmp_path, notices):
    with pytest.raises(TemplateProblem, match="dead_letter_alert.cy"):
        notices.render("dead_letter_alert", "cy", {"topic": "t"})
    with pytest.raises(TemplateProblem, match="language 'fr'"):
        notices.render("dead_letter_alert", "fr", SAMPLE)
    broken = tmp_path / "templates.toml"
    broken.write_text(TEMPLATES_FILE.read_text(encoding="utf-8").replace("[templates.person_merged.cy]", "[templates.person_merged.fr]"),
                      encoding="utf-8")
    with pytest.raises(TemplateProblem, match="templates.person_merged.cy: needs title, body, action"):
        Notices.load(broken)
    broken.write_text(TEMPLATES_FILE.read_text(encoding="utf-8").replace("{{ client }}", "{{ client "), encoding="utf-8")
    with pytest.raises(TemplateProblem, match="access_refusals_alert"):
        Notices.load(broken)


def test_no_value_can_add_a_line(notices):
    text = notices.render("encompass_unreachable_school", "en", {**SAMPLE, "reason": "x\r\nTelephone 07700 900000 instead"})["text"]
    assert "Why: x Telephone 07700 900000 instead" in text.splitlines()


def test_recipient_languages_default_to_bilingual_and_refuse_an_unknown_language(tmp_path):
    languages = RecipientLanguages.load()
    assert languages.of("W06000023") == "cy+en" and languages.of("E23000001") == "en" and languages.of("x", own="cy") == "cy"
    bad = tmp_path / "languages.toml"
    bad.write_text('default = "cy+en"\n[organisations]\nW06000023 = "welsh"\n')
    with pytest.raises(TemplateProblem, match="organisations.W06000023: language 'welsh'"):
        RecipientLanguages.load(bad)


def test_a_policy_operation_without_a_template_is_refused(tmp_path):
    from streams.settings import DEFAULT_POLICY_FILE
    from streams.sharing.policy import Policy, PolicyError

    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8") + '\n[operations.brand_new]\nid = "x.alerts.y"\nsink = "alerts"\nfields = ["alert"]\n'
    changed = tmp_path / "policy.toml"
    changed.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="no Welsh/English template for operation\\(s\\) brand_new"):
        Policy.load(changed)
