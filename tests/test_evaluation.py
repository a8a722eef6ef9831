"""The arithmetic `make eval` reports its cross-validation with (bot/evaluation.py)."""
import pytest

from bot.evaluation import _split, cv_totals


def test_split_counts_flags_by_label():
    held = [("a", [], True, None), ("b", [], True, None), ("c", [], False, None)]
    assert _split([True, False, True], held) == {"danger": 1, "ordinary": 1}


def test_cv_totals_pool_every_left_out_file():
    cv = {
        "one.yml": {"danger": 10, "ordinary": 100,
                    "configured": {"escalated": {"danger": 9, "ordinary": 2}}},
        "two.yml": {"danger": 30, "ordinary": 300,
                    "configured": {"escalated": {"danger": 30, "ordinary": 6}}},
    }
    recall, false_rate, missed, false = cv_totals(cv, "configured", "escalated")
    assert recall == pytest.approx(39 / 40)
    assert false_rate == pytest.approx(8 / 400)
    assert (missed, false) == (1, 8)
