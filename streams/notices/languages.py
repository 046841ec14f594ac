"""Which language each recipient reads: ``cy``, ``en`` or ``cy+en`` (bilingual, Welsh first).

Inputs: ``recipient_languages.toml`` (or the deployment's own file, ``SAFEGUARD_RECIPIENT_LANGUAGES_FILE``):
a default and a language per organisation code; a school's own ``language`` from the school directory.
Outputs: ``RecipientLanguages.of(code)``. Guarantee: a recipient with no recorded preference gets the
default, which is bilingual: the Welsh Language Standards bind the councils, health boards and police
forces using this pipeline, and nobody should have to ask for Welsh (the Active Offer).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from streams.notices.render import RECIPIENT_LANGUAGES, TemplateProblem

LANGUAGES_FILE = Path(__file__).with_name("recipient_languages.toml")


def checked_language(value: str, where: str) -> str:
    """``value`` when it is ``cy``, ``en`` or ``cy+en`` (any case, spaces ignored); else a ``ValueError`` naming ``where``."""
    normalised = "".join(str(value).split()).lower()
    if normalised not in RECIPIENT_LANGUAGES:
        raise ValueError(f"{where}: language {value!r} is not one of {', '.join(RECIPIENT_LANGUAGES)}")
    return normalised


@dataclass(frozen=True)
class RecipientLanguages:
    default: str = "cy+en"
    by_organisation: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = LANGUAGES_FILE) -> RecipientLanguages:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            return cls(checked_language(data.get("default", "cy+en"), f"{path}: default"),
                       {str(code): checked_language(language, f"{path}: organisations.{code}")
                        for code, language in data.get("organisations", {}).items()})
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError) as exc:
            raise TemplateProblem(f"{path}: {exc}") from exc

    def of(self, organisation_code: str | None, own: str | None = None) -> str:
        """The recipient's language: its own recorded one (a school's), else its organisation's, else the default."""
        return own or self.by_organisation.get(organisation_code or "", self.default)
