"""`make eval`: held-out evaluation of the trained model. Nothing in eval/ is ever trained on.

1. Intents: `rasa test nlu` on eval/nlu_heldout.yml → weighted F1, the weakest intents and the
   most frequent confusions.
2. Emergencies: every message of each blind set, eval/emergency_blind_*.yml, through the full NLU
   pipeline (DIET, the danger patterns and the danger model) → emergency recall and the
   false-emergency rate (escalations only), how many of each got the danger check instead (999 in
   front of the normal answer), and the patterns alone. Sets A–K in data/danger/ were blind once
   (their headers keep those figures) and are now the danger model's training data.
3. Cross-validation over data/danger/: train the danger model on all files but one (and the intent
   examples), measure on the one left out, both the model alone and the whole decision without
   DIET (patterns + model, `decide` in bot/nlu/emergency_component.py). The sets were written
   independently, so the model's figures estimate how it does on wording it has never seen. The
   patterns were tuned on these sets, so the whole decision's figures there are optimistic.

Writes results/eval.json and prints a summary. Exits non-zero if a goal is missed, so it can gate CI.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

from bot.settings import ROOT

GOALS = {"weighted_f1": 0.90, "emergency_recall": 1.0, "false_emergency_rate": 0.03,
         # sets from P on: every high-risk disclosure gets 999 first (escalated or the danger check)
         "high_risk_999_first": 1.0}


def nlu_report(model: Path, heldout: Path, out: Path) -> Dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    rasa = str(Path(sys.executable).with_name("rasa"))
    subprocess.run(
        [rasa, "test", "nlu", "--model", str(model), "--nlu", str(heldout), "--out", str(out),
         "--no-plot"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )
    report = json.loads((out / "intent_report.json").read_text())
    per_intent = {
        name: values for name, values in report.items()
        if isinstance(values, dict) and "f1-score" in values and name not in
        ("micro avg", "macro avg", "weighted avg", "accuracy")
    }
    confusions: collections.Counter = collections.Counter()
    errors_file = out / "intent_errors.json"
    if errors_file.exists():
        for error in json.loads(errors_file.read_text()):
            predicted = (error.get("intent_prediction") or {}).get("name")
            confusions[(error["intent"], predicted)] += 1
    return {
        "weighted_f1": report["weighted avg"]["f1-score"],
        "accuracy": report.get("accuracy"),
        "examples": int(report["weighted avg"]["support"]),
        "weakest": sorted(
            ({"intent": k, "f1": round(v["f1-score"], 3), "support": v["support"]} for k, v in per_intent.items()),
            key=lambda item: item["f1"],
        )[:6],
        "confusions": [{"intent": a, "predicted": b, "count": n} for (a, b), n in confusions.most_common(10)],
    }


async def _parse_all(model: Path, messages: List[str]) -> List[Dict]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs each parsed message's text at DEBUG

    agent = Agent.load(str(model))
    intents = []
    for text in messages:
        parsed = await agent.parse_message(text)
        name = (parsed.get("intent") or {}).get("name")
        # A high-risk answer: forced by the risk patterns, or DIET's own risk_<category> intent
        # (whose answer also opens with the danger check, bot/nlg.py).
        risk = (parsed.get("risk") or {}).get("category")
        if risk is None and name and name.startswith("risk_"):
            risk = name[len("risk_"):]
        intents.append({"intent": name, "checked": bool(parsed.get("danger_check")) or risk is not None,
                        "risk": risk})
    return intents


def emergency_report(model: Path, heldout: Path) -> Dict:
    data = yaml.safe_load(heldout.read_text())
    danger = [item["text"] for item in data["danger"]]
    ordinary = [item["text"] for item in data["ordinary"]]
    high_risk_items = data.get("high_risk") or []  # sets from P on
    parsed_all = asyncio.run(_parse_all(model, danger + ordinary + [i["text"] for i in high_risk_items]))
    parsed, parsed_risk = parsed_all[: len(danger) + len(ordinary)], parsed_all[len(danger) + len(ordinary):]
    escalated = [p["intent"] == "emergency" for p in parsed]
    checked = [p["checked"] for p in parsed]
    danger_hits, false_hits = escalated[: len(danger)], escalated[len(danger):]

    from bot.nlu.danger import default_detector

    detector = default_detector()  # one load per run
    detector_recall = sum(detector.detect(t) is not None for t in danger) / len(danger)
    detector_false = sum(detector.detect(t) is not None for t in ordinary) / len(ordinary)
    # Short messages ("help", "hello") can be written the same way by independent writers: report
    # the set without the ones that appear word for word in the danger model's training data too.
    from bot.nlu.danger_model import load_corpus

    trained = {e.text.strip().lower() for e in load_corpus([ROOT / "data" / "danger"])}
    unseen_danger = [hit for t, hit in zip(danger, danger_hits) if t.strip().lower() not in trained]
    unseen_ordinary = [hit for t, hit in zip(ordinary, false_hits) if t.strip().lower() not in trained]
    report = {
        "danger_messages": len(danger),
        "ordinary_messages": len(ordinary),
        "also_in_training": len(danger) + len(ordinary) - len(unseen_danger) - len(unseen_ordinary),
        "unseen_recall": sum(unseen_danger) / max(len(unseen_danger), 1),
        "unseen_false_rate": sum(unseen_ordinary) / max(len(unseen_ordinary), 1),
        "emergency_recall": sum(danger_hits) / len(danger),
        "false_emergency_rate": sum(false_hits) / len(ordinary),
        # 999 first: escalated, or the danger check in front of the answer
        "danger_shown_999_first": sum(e or c for e, c in zip(danger_hits, checked)) / len(danger),
        "danger_checked": sum(checked[: len(danger)]) / len(danger),
        "ordinary_checked": sum(checked[len(danger):]) / len(ordinary),
        "detector_only_recall": detector_recall,
        "detector_only_false_rate": detector_false,
        "missed_categories": collections.Counter(
            item["category"] for item, hit in zip(data["danger"], danger_hits) if not hit
        ),
        "false_alarm_kinds": collections.Counter(
            item["kind"] for item, hit in zip(data["ordinary"], false_hits) if hit
        ),
        # ordinary messages answered as a high-risk disclosure (999 first, then the risk answer)
        "ordinary_as_high_risk": sum(p["risk"] is not None for p in parsed[len(danger):]) / len(ordinary),
    }
    if high_risk_items:
        report["high_risk"] = high_risk_report(high_risk_items, parsed_risk)
    return report


def high_risk_report(items: List[Dict], parsed: List[Dict]) -> Dict:
    """Right = answered as that kind of disclosure (risk_<category>), or escalated (the full
    emergency reply, which names 999 first and offers the same help). Asked again = 999 first (the
    danger check) but not the risk answer. Wrong = no 999 in front of whatever was answered."""
    rows = collections.defaultdict(lambda: collections.Counter())
    for item, p in zip(items, parsed):
        category = item["category"]
        if p["intent"] == "emergency":
            outcome = "escalated"
        elif p["risk"] == category:
            outcome = "right"
        elif p["risk"] is not None:
            outcome = "other_risk_answer"
        elif p["checked"]:
            outcome = "checked_only"
        else:
            outcome = "wrong"
        rows[category][outcome] += 1
        rows["all"][outcome] += 1
    total = len(items)
    first = total - rows["all"]["wrong"]
    return {
        "messages": total,
        "shown_999_first": first / total,
        "right_answer": (rows["all"]["right"] + rows["all"]["escalated"]) / total,
        "by_category": {k: dict(v) for k, v in rows.items()},
        "wrong_categories": collections.Counter(
            item["category"] for item, p in zip(items, parsed)
            if p["intent"] != "emergency" and p["risk"] is None and not p["checked"]),
    }


def danger_cross_validation(corpus_dir: Path, settings: Dict[str, Dict]) -> Dict[str, Dict]:
    """Leave one corpus file out, train the danger model on the rest, and report for the left-out
    file both the model alone (at each setting's `escalate`) and the whole decision without DIET
    (patterns + model, `decide` in the component) under each named setting of thresholds."""
    from rasa.shared.importers.importer import TrainingDataImporter

    from bot.nlu.danger import default_detector
    from bot.nlu.danger_model import DangerModel, load_corpus
    from bot.nlu.emergency_component import CHECK, ESCALATE, EmergencyDetector, decide

    detector = default_detector()  # one load per run
    component = EmergencyDetector({**EmergencyDetector.get_default_config(), "corpus": []},
                                  detector=detector)
    intents = component.training_examples(TrainingDataImporter.load_from_config(
        str(ROOT / "config.yml"), str(ROOT / "domain"), [str(ROOT / "data")]).get_nlu_data())
    files = sorted(corpus_dir.glob("*.yml"))
    read = {}
    for f in files:
        items = []
        for e in load_corpus([f]):
            found = detector.explain(e.text)
            items.append((e.text, found["words"], e.danger, found["signal"]))
        read[f.name] = items
    out: Dict[str, Dict] = {}
    for name, held in read.items():
        train = intents + [(t, w, d) for other, items in read.items() if other != name
                           for t, w, d, _ in items]
        model = DangerModel.fit(train)
        probs = model.probabilities([(t, w) for t, w, _, _ in held])
        row: Dict[str, Any] = {"danger": sum(d for _, _, d, _ in held),
                               "ordinary": sum(not d for _, _, d, _ in held)}
        for label, cfg in settings.items():
            acts = [decide(sig, p, False, cfg) for p, (_, _, _, sig) in zip(probs, held)]
            model_only = [p >= cfg["escalate"] for p in probs]
            row[label] = {
                "model_escalated": _split(model_only, held),
                "escalated": _split([a == ESCALATE for a in acts], held),
                "shown_999": _split([a in (ESCALATE, CHECK) for a in acts], held),
            }
        out[name] = row
    return out


def _split(flags: List[bool], held: List) -> Dict[str, int]:
    return {"danger": sum(f for f, item in zip(flags, held) if item[2]),
            "ordinary": sum(f for f, item in zip(flags, held) if not item[2])}


def cv_totals(cv: Dict[str, Dict], label: str, kind: str) -> Tuple[float, float, int, int]:
    """Recall and false rate summed over every left-out file.

    Returns (recall, false_rate, danger missed, ordinary flagged)."""
    danger = sum(r["danger"] for r in cv.values())
    ordinary = sum(r["ordinary"] for r in cv.values())
    hit = sum(r[label][kind]["danger"] for r in cv.values())
    false = sum(r[label][kind]["ordinary"] for r in cv.values())
    return hit / danger, false / ordinary, danger - hit, false


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "current.tar.gz"))
    parser.add_argument("--nlu", default=str(ROOT / "eval" / "nlu_heldout.yml"))
    parser.add_argument("--emergency", nargs="+",
                        default=[str(p) for p in
                                 sorted((ROOT / "eval").glob("emergency_blind_*.yml"))],
                        help="blind sets (default: every eval/emergency_blind_*.yml); "
                             "each must meet the goals")
    parser.add_argument("--danger-corpus", default=str(ROOT / "data" / "danger"),
                        help="cross-validate the danger model over these files (one left out at a time)")
    parser.add_argument("--out", default=str(ROOT / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: Dict = {}
    if Path(args.nlu).exists():
        results["nlu"] = nlu_report(Path(args.model), Path(args.nlu), out / "nlu-heldout")
    if not args.emergency:
        parser.error("no blind emergency set: expected eval/emergency_blind_*.yml")
    results["emergency"] = {Path(f).name: emergency_report(Path(args.model), Path(f))
                            for f in args.emergency}
    from bot.nlu.emergency_component import EmergencyDetector

    configured = next(c for c in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]
                      if c["name"].endswith("EmergencyDetector"))
    cfg = {**EmergencyDetector.get_default_config(), **configured}
    results["danger_cv"] = danger_cross_validation(Path(args.danger_corpus), {"configured": cfg})
    (out / "eval.json").write_text(json.dumps(results, indent=2, default=dict))

    failed = []
    if "nlu" in results:
        nlu = results["nlu"]
        print(f"\nHeld-out intents: weighted F1 {nlu['weighted_f1']:.3f} on {nlu['examples']} messages "
              f"(goal ≥ {GOALS['weighted_f1']})")
        print("  weakest: " + ", ".join(f"{w['intent']} {w['f1']:.2f}" for w in nlu["weakest"]))
        for c in nlu["confusions"][:6]:
            print(f"  confused: {c['intent']} → {c['predicted']} ×{c['count']}")
        if nlu["weighted_f1"] < GOALS["weighted_f1"]:
            failed.append("weighted F1")
    for name, em in results["emergency"].items():
        print(f"\nEmergency held-out ({name}): recall {em['emergency_recall']:.3f} on "
              f"{em['danger_messages']} danger messages (goal 1.00); false-emergency rate {em['false_emergency_rate']:.3%} on "
              f"{em['ordinary_messages']} ordinary messages (goal ≤ 3%)")
        print(f"  999 shown first (escalated, or the danger check before the answer): "
              f"{em['danger_shown_999_first']:.3f} of danger messages; danger check on "
              f"{em['ordinary_checked']:.1%} of ordinary messages")
        print(f"  without the {em['also_in_training']} messages also in data/danger word for word: "
              f"recall {em['unseen_recall']:.3f}, false rate {em['unseen_false_rate']:.1%}")
        print(f"  patterns alone: recall {em['detector_only_recall']:.3f}, "
              f"false rate {em['detector_only_false_rate']:.3%}")
        if em["missed_categories"]:
            print(f"  missed by category: {dict(em['missed_categories'])}")
        if em["false_alarm_kinds"]:
            print(f"  false alarms by kind: {dict(em['false_alarm_kinds'])}")
        print(f"  ordinary answered as a high-risk disclosure: {em['ordinary_as_high_risk']:.1%}")
        hr = em.get("high_risk")
        if hr:
            counts = hr["by_category"]["all"]
            print(f"  high-risk disclosures ({hr['messages']}): 999 first {hr['shown_999_first']:.3f} "
                  f"(goal {GOALS['high_risk_999_first']:.2f}); right risk answer "
                  f"{counts.get('right', 0)}, escalated {counts.get('escalated', 0)}, another risk "
                  f"answer {counts.get('other_risk_answer', 0)}, danger check only "
                  f"{counts.get('checked_only', 0)}, no 999 (wrong) {counts.get('wrong', 0)}")
            for category, row in sorted(hr["by_category"].items()):
                if category != "all":
                    print(f"    {category}: {dict(row)}")
            if hr["shown_999_first"] < GOALS["high_risk_999_first"]:
                failed.append(f"high-risk 999 first on {name}")
        if em["emergency_recall"] < GOALS["emergency_recall"]:
            failed.append(f"emergency recall on {name}")
        if em["false_emergency_rate"] > GOALS["false_emergency_rate"]:
            failed.append(f"false-emergency rate on {name}")
    cv = results["danger_cv"]
    print(f"\nEach file of {Path(args.danger_corpus).name}/ left out in turn, the danger model "
          f"trained on the rest (no DIET); model alone at {cfg['escalate']} | patterns + model:")
    for name, row in cv.items():
        m, e = row["configured"]["model_escalated"], row["configured"]["escalated"]
        print(f"  {name}: recall {m['danger'] / max(row['danger'], 1):.3f} | "
              f"{e['danger'] / max(row['danger'], 1):.3f} of {row['danger']}; false rate "
              f"{m['ordinary'] / max(row['ordinary'], 1):.1%} | "
              f"{e['ordinary'] / max(row['ordinary'], 1):.1%} of {row['ordinary']}")
    recall, false_rate, missed, false = cv_totals(cv, "configured", "escalated")
    shown, _, unshown, _ = cv_totals(cv, "configured", "shown_999")
    print(f"  all files, patterns + model: recall {recall:.3f} ({missed} missed), false rate "
          f"{false_rate:.2%} ({false}); 999 first {shown:.3f} ({unshown} without)")
    print(f"\nResults in {out / 'eval.json'}")
    if failed:
        print("Goals missed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
