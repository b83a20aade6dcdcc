"""Validation loss and early stopping through the NumPy forward pass, once per epoch.

Keras' own `validation_data` runs `evaluate` after every epoch: a second input pipeline and a
backend call that cost more than the epoch's few gradient steps on a small LSTM (about 35 ms
against 120 ms for a whole epoch under TensorFlow on 2 cores). The held-out samples are few,
so their loss through `numpy_forward` (the pass that makes every forecast) costs a few
milliseconds. The stopping rule is Keras' `EarlyStopping(monitor="val_loss",
restore_best_weights=True)`: stop after `patience` epochs without a lower loss, then restore
the weights of the best epoch.
"""

import numpy as np

from . import numpy_forward

__all__ = ["ValidationStopping"]


def ValidationStopping(inputs, targets, patience):  # noqa: N802 - a class built lazily
    """A Keras callback scoring the held-out `(inputs, targets)` after every epoch.

    Args:
        inputs: held-out sequences, `(n, seq_len, n_features)`.
        targets: their targets, `(n,)`.
        patience: epochs without a better loss before training stops; 0 never stops (the
            loss is still recorded).

    Returns:
        A `keras.callbacks.Callback`; after `fit`, its `losses` hold one loss per epoch.
    """
    import keras

    class _ValidationStopping(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.losses = []
            self._best, self._best_weights, self._wait = np.inf, None, 0

        def on_epoch_end(self, epoch, logs=None):
            predicted = numpy_forward.forward(numpy_forward.extract_layers(self.model), inputs)
            loss = float(np.mean((predicted - targets) ** 2))
            self.losses.append(loss)
            if not patience:
                return
            self._wait += 1
            if loss < self._best:
                self._best, self._wait = loss, 0
                self._best_weights = self.model.get_weights()
            elif self._wait >= patience:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self._best_weights is not None and self._wait:
                self.model.set_weights(self._best_weights)

    return _ValidationStopping()
