"""A plain backtrader script using lstm-bt's feed, strategy and analyzers: copy it and edit.

    python examples/cerebro_script.py

It runs offline on synthetic hourly bars. For Binance data, replace the feed with

    BinanceKlines(symbol="BTCUSDT", interval="1h", fromdate=FIRST_BAR, todate=END)

(fetched once into ./feeds, then read from there). Everything else stays the same.
"""

from datetime import datetime, timedelta

import backtrader as bt

from lstm_bt import analyzers
from lstm_bt.feeds import BinanceKlines
from lstm_bt.models.schedule import required_history
from lstm_bt.strategies import LSTMStrategy
from lstm_bt.data.synthetic import ar1_returns

MODEL = {"seq_len": 30, "train_window": 500, "retrain_every": 168, "epochs": 10}
START = datetime(2024, 2, 1)  # first bar traded and measured
END = datetime(2024, 3, 1)  # exclusive
# The first model trains on the bars before START: load them too, or it cannot start.
FIRST_BAR = START - timedelta(hours=required_history(MODEL["train_window"], MODEL["seq_len"]))


def main():
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(10_000.0)
    cerebro.broker.setcommission(commission=0.001)  # Binance spot taker fee
    bars = ar1_returns(2_000, interval="1h", start="2024-01-01", seed=7)
    cerebro.adddata(BinanceKlines(dataname=bars, interval="1h", fromdate=FIRST_BAR, todate=END),
                    name="DEMO")
    # `start`: the first bar traded; the analyzers measure from it too (not from the warm-up).
    # threshold "cost" (the default): a predicted move must pay a round trip's commission.
    cerebro.addstrategy(LSTMStrategy, start=START, seed=0, **MODEL)
    analyzers.add_all(cerebro)
    strategy = cerebro.run()[0]

    metrics = strategy.analyzers.metrics.get_analysis()
    benchmark = strategy.analyzers.benchmark.get_analysis()
    skill = strategy.analyzers.forecast.get_analysis()
    print(f"return {metrics['total_return_pct']:.2f} % (buy and hold "
          f"{benchmark['total_return_pct']:.2f} %), Sortino {metrics['sortino']}, "
          f"max drawdown {metrics['max_drawdown_pct']:.2f} %, trades {metrics['trades']}")
    print(f"forecast hit rate {skill['hit_rate']:.3f} (p = {skill['p_value']:.3f}), "
          f"repeat-last-move baseline {skill['baseline_hit_rate']:.3f}")


if __name__ == "__main__":
    main()
