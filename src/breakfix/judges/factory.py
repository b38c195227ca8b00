"""The judge factory: the registered judge a name picks (on its judge model when it needs one), and the judge a run
config names. The factory a judge registers takes ``(backend or None, rubric, **options)`` and returns a Judge."""

from __future__ import annotations

from typing import Any

from breakfix import registry
from breakfix.backends import ModelRef, build_backend
from breakfix.config import RunConfig
from breakfix.registry import judge_needs_model
from breakfix.types import Judge

__all__ = ["build_judge", "make_judge"]


def make_judge(
    name: str, model: ModelRef | None, rubric: str, seed: int = 0, options: dict[str, Any] | None = None
) -> Judge:
    """The registered judge ``name`` (on the judge model ``model``, a ``ModelRef``, when it needs one). ``options``
    go to judges registered with ``options=(names...)`` (the refusal judge's ``off_topic``)."""
    needs = judge_needs_model(name)
    if needs and model is None:
        raise ValueError(f"judge {name!r} needs a model")
    entry = registry.get("judge", name)
    accepted = entry.meta.get("options") or ()
    kwargs = {k: v for k, v in (options or {}).items() if k in accepted}
    return entry.obj(build_backend(model, seed) if needs else None, rubric, **kwargs)


def build_judge(cfg: RunConfig) -> Judge:
    """The judge a run config names (``cfg.judge_name``): a registered judge (on ``judge_model`` when it needs a
    model), or the ``ensemble`` of ``judge_ensemble``'s members."""
    name = cfg.judge_name
    if name == "ensemble":
        assert cfg.judge_ensemble is not None
        members = [make_judge(m.judge, m.model, m.rubric, cfg.seed) for m in cfg.judge_ensemble.members]
        return registry.get("judge", "ensemble").obj(members, cfg.judge_ensemble.mode)
    judges = getattr(cfg, "judges", None)
    options = {"off_topic": judges.off_topic} if judges is not None else None
    return make_judge(name, cfg.judge_model, cfg.judge_rubric, cfg.seed, options)
