"""Paper (and later live) trading on Binance's live klines, in backtrader's store pattern.

`BinanceStore` makes the live feed (`LiveKlines`) and the paper broker (`BinanceBroker`);
`PaperSession` is `lstm-bt trade --paper` as an object: the store, `LSTMStrategy`, lstm-bt's
analyzers and a journal (`Journal`) that a restarted session replays.
"""

from .journal import Journal, JournalMismatch, SessionMismatch
from .live_klines import LiveKlines
from .broker import BinanceBroker
from .session import ExchangeAccess, PaperSession, SessionResult
from .store import BinanceStore

__all__ = [
    "BinanceStore",
    "LiveKlines",
    "BinanceBroker",
    "PaperSession",
    "SessionResult",
    "ExchangeAccess",
    "Journal",
    "JournalMismatch",
    "SessionMismatch",
]
