"""One backtest: its data, cerebro, the forecast cache and the run directory."""
