"""scripts/replay_gates.py: stored replies, re-decided, give what the pipeline itself gives."""
import argparse
import importlib.util
from pathlib import Path

from eval.datasets import load_seeds_qa
from eval.runners import BackendSpec, run_answers

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("replay_gates", ROOT / "scripts" / "replay_gates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_replayed_decisions_match_the_pipelines_own(tmp_path, seeds_settings):
    settings = seeds_settings.replace(backend="extractive", cache_dir=tmp_path / "cache")
    replay = _script()
    out = tmp_path / "seeds.json"
    replay.capture(argparse.Namespace(squad=None, n=0, split="tune", out=out), settings)
    replayed = replay.replay(out, settings)
    index = replay.cached_index("seeds", [settings.seeds_dir], settings).index
    real = run_answers(load_seeds_qa(), index, settings, BackendSpec("extractive"))
    assert replayed["answerable"] == real["answerable"] and replayed["unanswerable"] == real["unanswerable"]
    assert replayed["correct_cited"] == round(real["correct_cited"] * real["answerable"])
    assert replayed["false_abstentions"] == real["false_abstentions"]
    assert replayed["declined"] == round(real["abstention_recall"] * real["unanswerable"])
    # a stricter gate can only decline more
    stricter = replay.replay(out, settings.replace(min_coverage=0.5))
    assert stricter["false_abstentions"] >= replayed["false_abstentions"] and stricter["declined"] >= replayed["declined"]
    assert stricter["false_abstentions"] > replayed["false_abstentions"] or stricter["declined"] > replayed["declined"]
