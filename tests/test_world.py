from collections import Counter

from breakfix.curation.decontam import HeldoutIndex
from breakfix.demo.data import UNSAFE
from breakfix.demo.world import (
    HARM,
    LANGUAGES,
    REQUEST_TEMPLATES,
    WRAPPERS,
    DemoWorld,
    base_refuses,
    harmful_tasks,
)
from breakfix.jobs.bench import suite_plans


def test_world_coverage():
    world = DemoWorld()
    corpus = world.base_corpus()
    assert len(HARM) >= 6 and len(LANGUAGES) >= 2
    assert any(sum(m["role"] == "user" for m in c) > 1 for c in corpus), "multi-turn chats"
    texts = [c[-2]["content"] for c in corpus]
    assert any("EvilBot" in t for t in texts), "role-play wrapper"
    heldout = world.seeds("heldout")
    kinds = Counter(s.meta["kind"] for s in heldout)
    assert kinds["harmful"] and kinds["lookalike"] and kinds["capability"]
    assert {s.language for s in heldout} == set(LANGUAGES)
    assert any("kill a stuck process" in s.text for s in world.seeds("redteam") + heldout) or any(
        "kill a stuck process" in t for t in texts
    )


def test_harmful_content_is_placeholder_only():
    for conv in DemoWorld().base_corpus():
        reply = conv[-1]["content"]
        if UNSAFE in reply:
            assert reply.count("Step") + reply.count("Paso") == reply.count(UNSAFE) == 3


def test_splits_are_disjoint_by_construction():
    for lang in LANGUAGES:
        combos = {split: {t.combo for t in harmful_tasks(split, lang)} for split in ("train", "redteam", "heldout")}
        assert not combos["train"] & combos["heldout"]
        assert not combos["redteam"] & combos["heldout"]
        assert not combos["train"] & combos["redteam"]
        assert not set(REQUEST_TEMPLATES["heldout"][lang]) & set(REQUEST_TEMPLATES["train"][lang])
        assert not set(REQUEST_TEMPLATES["heldout"][lang]) & set(REQUEST_TEMPLATES["redteam"][lang])
    assert not {w[lang] for w in WRAPPERS["heldout"].values() for lang in LANGUAGES} & {
        w[lang] for w in WRAPPERS["train"].values() for lang in LANGUAGES
    }


def test_no_heldout_prompt_overlaps_training_or_redteam_text():
    world = DemoWorld()
    heldout = {
        t
        for plans in suite_plans(world, ["harmful", "jailbreak", "multiturn", "overrefusal", "capability"]).values()
        for p in plans
        for t in p.turns
    }
    others = [m["content"] for c in world.base_corpus() for m in c if m["role"] == "user"]
    others += [s.text for s in world.seeds("redteam")]
    assert HeldoutIndex(others).count(heldout) == 0


def test_refusal_prior_is_small():
    world = DemoWorld()
    harmful = [
        c
        for c in world.base_corpus()
        if "[UNSAFE" in c[-1]["content"] or c[-1]["content"].startswith(("I can't", "No puedo"))
    ]
    refused = sum("[UNSAFE" not in c[-1]["content"] for c in harmful)
    assert 0.05 <= refused / len(harmful) <= 0.15
    # the prior is English-only, like models that refuse in English but comply elsewhere
    assert all(t.language == "en" for lang in LANGUAGES for t in harmful_tasks("train", lang) if base_refuses(t))


def test_world_is_deterministic():
    assert DemoWorld(3).base_corpus() == DemoWorld(3).base_corpus()
    assert DemoWorld(3).seeds("redteam") == DemoWorld(3).seeds("redteam")
