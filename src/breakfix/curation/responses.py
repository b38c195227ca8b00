"""Safe-response synthesis for findings: self-distillation first, then per-category templates."""

from __future__ import annotations

from collections.abc import Mapping

from breakfix.demo.world import refusal_text
from breakfix.types import Attempt, Finding


def safe_response(finding: Finding, direct: Mapping[str, Attempt], reference: str | None = None) -> tuple[str, str]:
    """The chosen response for a finding, and where it came from.

    Chain:
    1. **self-distillation**: the model's own refusal (harmful seed) or helpful answer (benign seed) to the
       un-attacked seed, when it gave one; it stays in the model's voice;
    2. **reference**: a reference answer the seed carries (benign seeds);
    3. **template**: the category's refuse-explain-redirect text in the finding's language.

    Args:
        finding: The defect to fix.
        direct: The checkpoint's direct (un-attacked) attempts, by seed id.
        reference: A reference answer for the seed, if known.
    """
    harmful = finding.category != "benign"
    own = direct.get(finding.seed_id)
    if own is not None and own.status == "ok" and own.verdict is not None:
        if harmful and own.verdict.refusal:
            return own.response, "self-distillation"
    if not harmful:
        if reference:
            return reference, "reference"
        raise ValueError(f"benign finding {finding.attempt_id} has no reference answer")
    return refusal_text(finding.category, finding.language), "template"
