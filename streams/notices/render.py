"""Notices people read, rendered from templates kept as data (``templates.toml``) in Welsh and English.

Inputs: a template name (an operation of the sharing policy, or ``encompass_notice``), the recipient's
language (``cy``, ``en`` or ``cy+en``: bilingual, Welsh first) and the values the recipient may see.
Outputs: ``{"language", "title", "text"}``: a short title and a plain-text body ending in what the
recipient must do and by when. Guarantees: a template can only use the values it is given (a missing
one is an error, never a blank); every value is flattened to one line, so text from an event cannot
add a line to a notice; times are shown in UK time, in the reader's language.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from jinja2 import StrictUndefined, TemplateError, pass_context
from jinja2.sandbox import SandboxedEnvironment

TEMPLATES_FILE = Path(__file__).with_name("templates.toml")
LANGUAGES = ("cy", "en")
RECIPIENT_LANGUAGES = ("cy", "en", "cy+en")
PARTS = ("title", "body", "action")
UK_TIME = "Europe/London"
BABEL_LOCALE = {"cy": "cy", "en": "en_GB"}
DATETIME_PATTERN = {"cy": "HH:mm, EEEE d MMMM y", "en": "HH:mm 'on' EEEE d MMMM y"}
BILINGUAL_RULE = "\n\n" + "—" * 20 + "\n\n"


class TemplateProblem(ValueError):
    """A template file that cannot be used: names the template, the language and the reason."""


def flat(value: Any) -> str:
    """One line: every run of whitespace (line breaks, tabs) and every control character becomes one space."""
    return " ".join("".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in str(value)).split())


def _parse(value: Any) -> datetime | date | None:
    if isinstance(value, (datetime, date)):
        return value
    if len(str(value)) == len("2026-11-20"):  # a date alone is a date, not midnight
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            return None


@pass_context
def _when(context: Any, value: Any) -> str:
    """A date or an instant in the reader's language, in UK time (``10:00 on Monday 23 November 2026``)."""
    language = context["language"]
    parsed = _parse(value)
    if parsed is None:
        return flat(value)
    if isinstance(parsed, datetime):
        if parsed.tzinfo is None:
            return format_datetime(parsed, DATETIME_PATTERN[language], locale=BABEL_LOCALE[language])
        return format_datetime(parsed, DATETIME_PATTERN[language], tzinfo=UK_TIME, locale=BABEL_LOCALE[language])
    return format_date(parsed, "d MMMM y", locale=BABEL_LOCALE[language])


@pass_context
def _language_name(context: Any, code: Any) -> str:
    """``cy`` as "Welsh" to an English reader and "Cymraeg" to a Welsh one; an unknown code as itself."""
    names = Locale.parse(BABEL_LOCALE[context["language"]]).languages
    return names.get(str(code), flat(code))


def _finalize(value: Any) -> str:
    return "" if value is None else flat(value)


@dataclass(frozen=True)
class Notices:
    """The loaded templates: ``render(name, language, values)``."""

    templates: Mapping[str, Mapping[str, Mapping[str, Any]]]
    watch_titles: Mapping[str, Mapping[str, str]]
    version: str

    @classmethod
    def load(cls, path: Path = TEMPLATES_FILE) -> Notices:
        """Read and compile every template; raises ``TemplateProblem`` naming the template and the reason."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise TemplateProblem(f"{path}: cannot be read as TOML: {exc}") from exc
        environment = _environment()
        templates: dict[str, dict[str, dict[str, Any]]] = {}
        for name, spec in data.get("templates", {}).items():
            for language in LANGUAGES:
                parts = spec.get(language)
                if not isinstance(parts, dict) or any(not isinstance(parts.get(p), str) for p in PARTS):
                    raise TemplateProblem(f"templates.{name}.{language}: needs {', '.join(PARTS)} (text)")
                try:
                    templates.setdefault(name, {})[language] = {p: environment.from_string(parts[p]) for p in PARTS}
                except TemplateError as exc:
                    raise TemplateProblem(f"templates.{name}.{language}: {exc}") from exc
        titles = data.get("watch_titles", {})
        for rule, by_language in titles.items():
            if any(not isinstance(by_language.get(language), str) for language in LANGUAGES):
                raise TemplateProblem(f"watch_titles.{rule}: needs a title in {' and '.join(LANGUAGES)}")
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise TemplateProblem(f"{path}: 'version' must be a non-empty string")
        return cls(templates, titles, version)

    def render(self, name: str, language: str, values: Mapping[str, Any]) -> dict[str, str]:
        """The notice ``name`` in ``language`` (``cy+en``: Welsh first, then English, in one notice)."""
        if language not in RECIPIENT_LANGUAGES:
            raise TemplateProblem(f"language {language!r} is not one of {', '.join(RECIPIENT_LANGUAGES)}")
        if name not in self.templates:
            raise TemplateProblem(f"no template named {name!r}")
        parts = [self._one(name, single, values) for single in language.split("+")]
        return {"language": language, "title": " / ".join(part["title"] for part in parts),
                "text": BILINGUAL_RULE.join(part["text"] for part in parts)}

    def _one(self, name: str, language: str, values: Mapping[str, Any]) -> dict[str, str]:
        context = {**values, "language": language,
                   "watch_title": self.watch_titles.get(str(values.get("watch_rule")), {}).get(language,
                                                                                              values.get("watch_rule"))}
        template = self.templates[name][language]
        try:
            title, body, action = (template[part].render(context).strip() for part in PARTS)
        except TemplateError as exc:
            raise TemplateProblem(f"templates.{name}.{language}: {exc}") from exc
        lines = [line.rstrip() for line in body.splitlines()]
        text = "\n".join(_squeeze(lines)).strip()
        return {"title": flat(title), "text": f"{text}\n\n{action}" if action else text}


def _squeeze(lines: list[str]) -> list[str]:
    """No run of blank lines longer than one (a template's optional lines leave blanks behind)."""
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return out


def _environment() -> SandboxedEnvironment:
    environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_finalize,
                                       keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True)
    environment.filters["when"] = _when
    environment.filters["language_name"] = _language_name
    return environment
