"""Bars and time: the kline frame contract, intervals, UTC dates, bar times, synthetic bars."""
