"""The demo: a synthetic world, a tiny unaligned chat model trained from scratch, and a judge that reads the world's
placeholder. It is a plug-in (the entry point ``demo`` of the group ``breakfix.plugins``) that registers:

- the world ``demo`` (:class:`breakfix.demo.world.DemoWorld`);
- the model ``demo`` (built on first use and cached), whose default world and judge are ``demo``, and whose own
  refusals are the base of the curation template bank;
- the judge ``demo``, audited on the world's labelled responses.

Nothing outside this package imports it; configs and the CLI reach it through the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from breakfix import registry
from breakfix.demo.judge import DemoJudge, audit_demo_judge, demo_judge
from breakfix.demo.world import LANGUAGES, REFUSE, DemoWorld


def _model() -> Path:
    from breakfix.demo.model import build_demo_model  # torch and TRL: only when the demo model is needed

    return build_demo_model()


def _audit(judge: DemoJudge, world: Any) -> dict[str, Any]:
    return audit_demo_judge(judge, (world if isinstance(world, DemoWorld) else DemoWorld()).judge_audit_set())


registry.world("demo", languages=LANGUAGES, help="The synthetic demo world (en, es).")(DemoWorld)
registry.model("demo", world="demo", judge="demo", refusals=REFUSE, help="The tiny demo chat model (cached).")(_model)
registry.judge("demo", needs_model=False, audit=_audit, help="Reads the demo world's placeholder and refusals.")(
    lambda backend, rubric: demo_judge()
)
