"""Validation loss after each epoch of the forecaster's loop, and Keras' early-stopping rule."""

import numpy as np

__all__ = ["ValidationStopping"]


class ValidationStopping:
    """Scores the held-out `(inputs, targets)` after every epoch; `losses` keeps each.

    Args:
        inputs: held-out sequences, `(n, seq_len, n_features)`, in the model's dtype.
        targets: their targets, `(n,)`.
        patience: epochs without a better loss before training stops; 0 never stops.
    """

    def __init__(self, inputs, targets, patience):
        self.inputs, self.targets, self.patience = inputs, targets, patience
        self.losses = []
        self._best, self._best_weights, self._wait = np.inf, None, 0

    def epoch_end(self, model):
        """Record the held-out loss of `model` now; True when training should stop."""
        predicted = np.asarray(model.predict_on_batch(self.inputs), dtype=np.float64)[:, 0]
        loss = float(np.mean((predicted - self.targets) ** 2))
        self.losses.append(loss)
        if not self.patience:
            return False
        self._wait += 1
        if loss < self._best:
            self._best, self._wait = loss, 0
            self._best_weights = model.get_weights()
            return False
        return self._wait >= self.patience

    def train_end(self, model):
        """Put back the best epoch's weights when a later one was worse."""
        if self._best_weights is not None and self._wait:
            model.set_weights(self._best_weights)
