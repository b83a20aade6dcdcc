"""The mutants in `tests/mutants/` still point at code that exists: a snippet that moved would
make `check_mutants.py` stop as stale, and nobody runs it on every commit."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "mutants"))
from check_mutants import MUTANTS  # noqa: E402


def test_mutant_ids_are_unique():
    ids = [mutant.id for mutant in MUTANTS]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mutant: mutant.id)
def test_each_mutants_snippets_stand_once_and_its_tests_exist(mutant):
    texts = {}
    for path, old, new in mutant.edits:
        text = texts.setdefault(path, (ROOT / path).read_text())
        assert text.count(old) == 1, f"{path}: {old!r} stands {text.count(old)} times"
        texts[path] = text.replace(old, new)
    for test in mutant.tests:
        assert (ROOT / test.split("::")[0]).is_file(), test
