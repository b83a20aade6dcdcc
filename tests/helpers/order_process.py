"""A session's exchange side in its own process, for the kill -9 tests.

It starts (reconciles), sends the BUY decision of one bar, and prints one JSON line after each
step. With `--die-after-journal` it kills itself (SIGKILL) once the signed timestamp of the
order is journaled, before the request leaves: a crash between journaling and sending.

Usage: python order_process.py REST_URL JOURNAL_FILE [--die-after-journal]
(keys from LSTM_BT_API_KEY / LSTM_BT_API_SECRET).
"""

import json
import os
import signal
import sys

from lstm_bt.binance.account import SignedClient
from lstm_bt.binance.signing import load_api_key
from lstm_bt.orders import LiveOrders, SqliteOrderJournal

SESSION, BAR = "crash-test", 1_704_067_200_000


class JournalThatDiesBeforeSending(SqliteOrderJournal):
    def record_intent(self, intent):
        super().record_intent(intent)
        if intent.sent_ms is not None:
            os.kill(os.getpid(), signal.SIGKILL)


def main():
    url, path = sys.argv[1], sys.argv[2]
    journal_type = (JournalThatDiesBeforeSending if "--die-after-journal" in sys.argv
                    else SqliteOrderJournal)
    orders = LiveOrders(SignedClient(load_api_key(), url, recv_window_ms=1000),
                        journal_type(path), SESSION, "BTCUSDT", settle_s=0.2, backoff=0.05)
    found = orders.start()
    print(json.dumps({"resolved": [s.status for s in found.resolved],
                      "position": str(found.position)}), flush=True)
    state = orders.submit(BAR, "BUY", "0.02", price="50000")
    print(json.dumps({"status": state.status, "position": str(orders.position())}), flush=True)


if __name__ == "__main__":
    main()
