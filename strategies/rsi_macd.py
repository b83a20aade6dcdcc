"""An LSTMStrategy subclass that lets RSI and MACD veto the LSTM's long entries.

Load it from the command line (this folder is user space, not part of the package):

    lstm-bt backtest --demo --strategy-path strategies/rsi_macd.py --param rsi_overbought=65

The Blankly tutorial this project grew from fed RSI and MACD to the network as inputs. Here
they confirm the forecast instead: the LSTM still sees OHLCV only, and a long position is
only opened when MACD is above its signal line (upward momentum) and RSI is below
`rsi_overbought` (not stretched). Exits are never blocked, so a veto can only keep the
strategy out of the market. Both indicators read bars <= t only, like the model.

Copy this file to start your own: a subclass lists only the params it adds or changes.
"""

import backtrader as bt

from lstm_bt.strategies import LSTMStrategy


class RsiMacdConfirmed(LSTMStrategy):
    """LSTMStrategy whose long entries need MACD above its signal and RSI below a ceiling.

    Params:
        rsi_period: bars in the RSI. Defaults to `14`.
        rsi_overbought: RSI at or above which no long is opened. Defaults to `70.0`.
        macd_fast: fast EMA of the MACD. Defaults to `12`.
        macd_slow: slow EMA of the MACD. Defaults to `26`.
        macd_signal: EMA of the MACD's signal line. Defaults to `9`.
    """

    params = (
        ("rsi_period", 14),
        ("rsi_overbought", 70.0),
        ("macd_fast", 12),
        ("macd_slow", 26),
        ("macd_signal", 9),
    )

    def __init__(self):
        super().__init__()
        self.rsi = bt.ind.RSI(self.data.close, period=self.p.rsi_period)
        self.macd = bt.ind.MACD(self.data.close, period_me1=self.p.macd_fast,
                                period_me2=self.p.macd_slow, period_signal=self.p.macd_signal)

    def start(self):
        super().start()
        self.vetoed = 0  # long entries blocked in this run

    def order_target_size(self, data=None, target=0, **kwargs):
        # Every order LSTMStrategy sends goes through here, so this is where a veto belongs.
        opening_long = target > 0 >= self.getposition(data or self.data).size
        confirmed = self.macd.macd[0] > self.macd.signal[0] and self.rsi[0] < self.p.rsi_overbought
        if opening_long and not confirmed:
            self.vetoed += 1
            return None
        return super().order_target_size(data=data, target=target, **kwargs)
