"""What a person reads of a run: the summary table, chart data, the PNGs and report.html."""
