"""The documented metric tables (docs/metrics.md) and analyzer table (docs/python-api.md)
name every key the report carries, and nothing else."""

import re
from pathlib import Path

from lstm_bt import analyzers, stats

DOCS = Path(__file__).resolve().parent.parent / "docs"


def metrics_section():
    return (DOCS / "metrics.md").read_text(encoding="utf-8")


def analyzers_section():
    text = (DOCS / "python-api.md").read_text(encoding="utf-8")
    start = text.index("\n## The analyzers\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end == -1 else text[start:end]


def table_keys(section, header):
    """First-column keys of the markdown table whose header row starts with `header`."""
    lines = section.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(header))
    keys = []
    for line in lines[first + 2:]:
        if not line.startswith("|"):
            break
        keys.append(re.match(r"\|\s*`([^`]+)`", line).group(1))
    return keys


def test_metrics_table_names_every_metric_and_benchmark_key():
    section = metrics_section()
    computed = stats.compute_metrics([101.0, 99.0], 100.0, 8760)
    assert table_keys(section, "| key | definition | unit | null when |") == list(computed)


def test_forecast_table_names_every_forecast_key():
    section = metrics_section()
    tables = [i for i, line in enumerate(section.splitlines())
              if line.startswith("| key | definition")]
    assert len(tables) == 2
    forecast_table = "\n".join(section.splitlines()[tables[1]:])
    computed = stats.forecast_skill([1.0, 2.0, 1.5], [1.5, 1.8, float("nan")])
    assert table_keys(forecast_table, "| key |") == list(computed)


def test_analyzer_table_names_every_add_all_name():
    assert table_keys(analyzers_section(), "| name | class |") == list(analyzers.ANALYZERS)
