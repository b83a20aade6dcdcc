"""Validation loss and early stopping, once per epoch of the forecaster's training loop.

Keras' own `validation_data` runs `evaluate` after every epoch: a second input pipeline that
costs more than the epoch's few gradient steps on a small LSTM (about 35 ms against 120 ms for
a whole epoch under TensorFlow on 2 cores). The held-out samples are few, so they go through
the model's compiled forward pass in one call (`predict_on_batch`, no pipeline: about 4 ms for
200 samples, against 11 ms for the NumPy pass that makes every forecast). The forecaster hands
it the epoch runner (`training_steps.epoch_runner`) in the model's place: under JAX that runs
the pass from the programs its architecture shares (`jax_programs.Programs.predict`,
byte-identical outputs, nothing compiled per model) on the values the fit holds, and keeps the
best epoch's weights without copying them. The stopping rule is Keras'
`EarlyStopping(monitor="val_loss", restore_best_weights=True)`: stop after `patience` epochs
without a lower loss, then restore the weights of the best epoch.
"""

import numpy as np

__all__ = ["ValidationStopping"]


class ValidationStopping:
    """Scores the held-out `(inputs, targets)` after every epoch of a training loop.

    Args:
        inputs: held-out sequences, `(n, seq_len, n_features)`, in the model's dtype.
        targets: their targets, `(n,)`.
        patience: epochs without a better loss before training stops; 0 never stops (the
            loss is still recorded).

    `epoch_end` and `train_end` take the model being trained, or anything with its
    `predict_on_batch`, `get_weights` and `set_weights` (an epoch runner). After training,
    `losses` holds one loss per epoch.
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
        """Put back the weights of the best epoch when a later one was worse."""
        if self._best_weights is not None and self._wait:
            model.set_weights(self._best_weights)
