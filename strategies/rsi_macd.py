"""An LSTMStrategy subclass whose network sees RSI and MACD beside the price.

Load it from the command line (this folder is user space, not part of the package):

    lstm-bt backtest --demo --strategy-path strategies/rsi_macd.py --param rsi_period=21

The Blankly tutorial this project grew from fed RSI and MACD to its LSTM alongside the price.
Here the indicators are built in `__init__` and handed over by `extra_inputs()`: LSTMStrategy
appends their values to the model's inputs, scales them on each training window like the
others, and reads them bar by bar through backtrader lines, so no bar after t is ever seen.

Copy this file to start your own: a subclass lists only the params it adds or changes.
"""

import backtrader as bt

from lstm_bt.strategies import LSTMStrategy


class RsiMacdInputs(LSTMStrategy):
    """LSTMStrategy whose model also reads RSI, MACD and the MACD signal line.

    Params:
        rsi_period: bars in the RSI. Defaults to `14`.
        macd_fast: fast EMA of the MACD. Defaults to `12`.
        macd_slow: slow EMA of the MACD. Defaults to `26`.
        macd_signal: EMA of the MACD's signal line. Defaults to `9`.
        input_warmup: bars before every indicator has a value: the signal line needs
            macd_slow + macd_signal - 2 = 33. Raise it with slower indicators (the run says
            by how much). Defaults to `33`.
    """

    params = (
        ("rsi_period", 14),
        ("macd_fast", 12),
        ("macd_slow", 26),
        ("macd_signal", 9),
        ("input_warmup", 33),
    )

    def __init__(self):
        super().__init__()
        close = self.data.close
        self.rsi = bt.ind.RSI(close, period=self.p.rsi_period)
        macd = bt.ind.MACD(close, period_me1=self.p.macd_fast, period_me2=self.p.macd_slow,
                           period_signal=self.p.macd_signal)
        # MACD is in price units; relative to the close it means the same at any price level,
        # so a training window's scaling still fits the bars the model forecasts later.
        self.macd = macd.macd / close
        self.macd_signal = macd.signal / close

    def extra_inputs(self):
        return (self.rsi, self.macd, self.macd_signal)
