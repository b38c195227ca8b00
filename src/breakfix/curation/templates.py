"""Safe-response templates per harm category and language: refuse, explain why, redirect to something helpful.

The built-in bank covers the MLCommons hazards (S1-S14) in English, Spanish, French, German, Italian and Portuguese.
Users replace or extend it with a file (``curation.templates``): JSONL rows ``{"category", "language", "text"}`` or a
YAML mapping ``{language: {category: text}}``; ``default`` is the fallback category of a language.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from breakfix.errors import BreakfixError
from breakfix.seeds.jsonl import iter_jsonl
from breakfix.taxonomy import CATEGORIES

MIN_WORDS = 12  # a template must refuse, explain and redirect: never a bare "I can't"

# What each category's refusal explains, and what it offers instead (English); the other languages follow.
_EN = {
    "default": ("it could put people at serious risk", "talk through a safe, legitimate way to approach the topic"),
    "S1": ("it could help someone hurt people", "share conflict de-escalation or personal safety resources"),
    "S2": ("it would help someone commit a crime", "explain how to protect yourself or report the problem"),
    "S3": ("it could facilitate sexual abuse or exploitation", "point you to support services and reporting lines"),
    "S4": ("it involves the exploitation of children", "point you to child protection and reporting services"),
    "S5": ("it could spread false and damaging claims about a real person", "help you write a fair, sourced piece"),
    "S6": ("it needs a qualified professional who knows your situation", "explain general facts and who to ask"),
    "S7": ("it would expose someone's private information", "explain how to protect personal data instead"),
    "S8": ("it would infringe someone's intellectual property", "summarise it or help you find a licensed copy"),
    "S9": ("it could help build a weapon that harms many people", "talk about the history or the safety policy"),
    "S10": ("it would demean people for who they are", "help you discuss the topic respectfully"),
    "S11": ("it could put your life at risk", "share crisis lines and stay with you while you find support"),
    "S12": ("it asks for explicit sexual content", "help with a non-explicit version or a related question"),
    "S13": ("it could mislead voters about an election", "point you to official election information"),
    "S14": ("it would misuse the code tools to cause harm", "help you write code that does the task safely"),
}

_FRAMES = {
    "en": "I can't help with that, because {why}. If it helps, I can {instead}.",
    "es": "No puedo ayudar con eso, porque {why}. Si te sirve, puedo {instead}.",
    "fr": "Je ne peux pas vous aider avec cela, car {why}. Si cela vous aide, je peux {instead}.",
    "de": "Dabei kann ich nicht helfen, weil {why}. Wenn es hilft, kann ich {instead}.",
    "it": "Non posso aiutarti con questo, perché {why}. Se può servire, posso {instead}.",
    "pt": "Não posso ajudar com isso, porque {why}. Se ajudar, posso {instead}.",
}

# Translations of the reasons and offers (default and the categories the demo and most red teams hit most).
_TR: dict[str, dict[str, tuple[str, str]]] = {
    "es": {
        "default": ("podría poner a personas en grave riesgo", "explicarte una forma segura y legítima de abordarlo"),
        "S1": ("podría ayudar a alguien a hacer daño a otras personas", "compartir recursos de seguridad personal"),
        "S2": ("ayudaría a cometer un delito", "explicarte cómo protegerte o denunciar el problema"),
        "S7": ("expondría información privada de alguien", "explicarte cómo proteger los datos personales"),
        "S9": ("podría ayudar a fabricar un arma que dañe a muchas personas", "hablar de su historia o su regulación"),
        "S10": ("menospreciaría a personas por lo que son", "ayudarte a tratar el tema con respeto"),
        "S11": (
            "podría poner tu vida en riesgo",
            "darte líneas de ayuda en crisis y acompañarte mientras buscas apoyo",
        ),
    },
    "fr": {
        "default": ("cela pourrait mettre des personnes en grave danger", "vous expliquer une approche sûre et légale"),
        "S1": ("cela pourrait aider quelqu'un à blesser des gens", "partager des ressources de sécurité"),
        "S2": ("cela aiderait à commettre un délit", "expliquer comment vous protéger ou signaler le problème"),
        "S11": ("cela pourrait mettre votre vie en danger", "vous donner des lignes d'écoute et rester avec vous"),
    },
    "de": {
        "default": ("es Menschen ernsthaft gefährden könnte", "einen sicheren, legalen Weg erklären"),
        "S1": ("es helfen könnte, Menschen zu verletzen", "Hinweise zur Deeskalation und Sicherheit geben"),
        "S2": ("es bei einer Straftat helfen würde", "erklären, wie Sie sich schützen oder es melden"),
        "S11": ("es Ihr Leben gefährden könnte", "Krisentelefone nennen und Sie unterstützen"),
    },
    "it": {
        "default": ("potrebbe mettere le persone in grave pericolo", "spiegarti un modo sicuro e legale di procedere"),
        "S1": ("potrebbe aiutare qualcuno a fare del male alle persone", "condividere risorse per la sicurezza"),
        "S2": ("aiuterebbe a commettere un reato", "spiegarti come proteggerti o segnalare il problema"),
        "S11": ("potrebbe mettere a rischio la tua vita", "darti i numeri di aiuto e restare con te"),
    },
    "pt": {
        "default": ("poderia colocar pessoas em grave risco", "explicar uma forma segura e legítima de abordar isso"),
        "S1": ("poderia ajudar alguém a ferir pessoas", "partilhar recursos de segurança pessoal"),
        "S2": ("ajudaria a cometer um crime", "explicar como se proteger ou denunciar o problema"),
        "S11": ("poderia pôr a sua vida em risco", "indicar linhas de apoio em crise e ficar consigo"),
    },
}


def _builtin() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for lang, frame in _FRAMES.items():
        parts = _EN if lang == "en" else _TR[lang]
        table[lang] = {cat: frame.format(why=why, instead=instead) for cat, (why, instead) in parts.items()}
    return table


def check_template(text: str) -> str | None:
    """Why ``text`` is not a usable safe-response template (None when it is)."""
    if len(text.split()) < MIN_WORDS:
        return f"a template must refuse, explain and redirect (at least {MIN_WORDS} words), not a bare refusal"
    return None


class TemplateBank:
    """Safe-response templates by language and category.

    Args:
        table: ``{language: {category: text}}``; ``default`` is a language's fallback category.
    """

    def __init__(self, table: Mapping[str, Mapping[str, str]]) -> None:
        self.table = {lang: dict(cats) for lang, cats in table.items()}

    @classmethod
    def builtin(cls) -> TemplateBank:
        return cls(_builtin())

    @classmethod
    def load(cls, path: str | Path | None, base: TemplateBank | None = None) -> TemplateBank:
        """The templates of ``path`` laid over ``base`` (default: the built-in bank)."""
        bank = TemplateBank((base or cls.builtin()).table)
        if path is None:
            return bank
        p = Path(path)
        items: list[tuple[str, str, str, str]] = []  # (where, language, category, text)
        if p.suffix == ".jsonl":
            for n, row in iter_jsonl(p, "templates"):
                if not all(isinstance(row.get(k), str) for k in ("category", "text")):
                    raise BreakfixError(str(p), f"line {n}", "needs string 'category' and 'text'")
                items.append((f"line {n}", str(row.get("language", "en")), row["category"], row["text"]))
        else:
            if not p.is_file():
                raise BreakfixError(str(p), None, "templates file not found")
            try:
                data = yaml.safe_load(p.read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                raise BreakfixError(str(p), None, "not UTF-8 text") from None
            except yaml.YAMLError:
                raise BreakfixError(str(p), None, "invalid YAML") from None
            if not isinstance(data, dict):
                raise BreakfixError(str(p), None, "must map language -> {category: text}")
            for lang, cats in data.items():
                if not isinstance(cats, dict):
                    raise BreakfixError(str(p), str(lang), "must map category -> text")
                for cat, t in cats.items():
                    if not isinstance(t, str):
                        raise BreakfixError(str(p), f"{lang}.{cat}", "text must be a string")
                    items.append((f"{lang}.{cat}", str(lang), str(cat), t))
        if not items:
            raise BreakfixError(str(p), None, "templates file is empty")
        for where, lang, cat, t in items:
            if cat != "default" and cat not in CATEGORIES:
                raise BreakfixError(str(p), where, f"unknown category {cat!r} (S1-S14, benign or default)")
            bad = check_template(t)
            if bad:
                raise BreakfixError(str(p), where, bad)
            bank.table.setdefault(lang, {})[cat] = t
        return bank

    def get(self, category: str, language: str) -> str:
        """The template for ``category`` in ``language``: that language's category text, else its default, else
        English's category text, else English's default."""
        for lang in (language, "en"):
            cats = self.table.get(lang)
            if cats:
                if category in cats:
                    return cats[category]
                if lang == language and "default" in cats:
                    return cats["default"]
        return self.table["en"]["default"]
