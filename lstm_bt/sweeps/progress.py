"""The sweep's progress bar: walk-forwards done, cells, failures and an ETA.

A walk-forward's cells arrive together, so the bar counts walk-forwards. The ETA is the cost
model's seconds of the walk-forwards left (`estimate.walk_seconds`), scaled by what the
finished ones took against what the model said (the machine's and the backend's speed), over
the worker slots; before the first walk-forward finishes it is the cost model's alone.
"""

from .estimate import PROCESS_START_S, format_seconds, traded_bars, walk_seconds

__all__ = ["WalkProgress"]

BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} walk-forwards [{elapsed}{postfix}]"


class WalkProgress:
    """Counts finished walk-forwards and estimates the time left.

    Args:
        work: `(bars, walk, broker)` per walk-forward to run (the sweep's work list).
        quiet: no bar (the ETA is still computed).
        slots: walk-forwards running at once (local workers, or a cluster's threads).
        restart_every: walk-forwards before a local worker process is replaced; 0 never.
    """

    def __init__(self, work, quiet=True, slots=1, restart_every=0):
        from tqdm import tqdm

        self.slots, self.restart_every = max(1, slots), restart_every
        self.predicted = [walk_seconds(walk.model, traded_bars(bars, walk), len(walk.cells))
                          for bars, walk, _ in work]
        self.walk_of = {cell.key: index for index, (_, walk, _) in enumerate(work)
                        for cell in walk.cells}
        self.left = set(range(len(work)))
        self.cells_total = len(self.walk_of)
        self.cells = self.failed = 0
        self.measured = self.modelled = 0.0
        self.bar = tqdm(total=len(work), desc="sweep", disable=quiet, dynamic_ncols=True,
                        bar_format=BAR_FORMAT)
        self._show()

    def update(self, results):
        """One walk-forward's cell results arrived."""
        if not results:
            return
        index = self.walk_of[results[0]["key"]]
        if index in self.left:
            self.left.discard(index)
            walk_s = results[0].get("walk_s")
            if walk_s is not None:  # a walk-forward lost with its worker has no time
                self.measured += walk_s
                self.modelled += self.predicted[index]
            self.bar.update(1)
        self.cells += len(results)
        self.failed += sum(result["status"] != "ok" for result in results)
        self._show()

    def eta(self):
        """Seconds left: the model's time of the walk-forwards left, scaled by the finished
        ones' measured over modelled time, over the slots (at least the longest one left),
        plus the worker restarts still to come."""
        if not self.left:
            return 0.0
        scale = self.measured / self.modelled if self.modelled else 1.0
        left = [self.predicted[index] for index in self.left]
        slots = min(self.slots, len(left))
        seconds = scale * max(sum(left) / slots, max(left))
        if self.restart_every:
            seconds += PROCESS_START_S * (len(left) // self.restart_every) / slots
        return seconds

    def _show(self):
        guess = "" if self.modelled else "~"
        tail = "" if self.modelled else " (cost model)"
        self.bar.set_postfix_str(
            f"cells {self.cells}/{self.cells_total}, failed {self.failed}, "
            f"ETA {guess}{format_seconds(self.eta())}{tail}", refresh=True)

    def close(self):
        self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
