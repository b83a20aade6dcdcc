"""One epoch of gradient steps over the batches the forecaster's training loop cut.

Under TensorFlow and PyTorch: `train_on_batch` per batch, Keras' compiled train step called
from Python. Under JAX that call pays more Python than its gradient step is worth (converting
the batch, finding the train function, copying every variable back into the model after every
batch: ~2 of ~5 ms a step of the reference model on 2 cores), so there the whole epoch is
one jitted call: the same stateless step `train_on_batch` compiles (Keras'
`compute_loss_and_updates`, then `optimizer.stateless_apply`), in a `lax.scan` over the
equal-size batches and then once more for the smaller last batch. Weights, optimizer state and
the dropout seed state go in and come out as JAX arrays, written back into the model once an
epoch (early stopping reads it). Same batches in the same order: byte-identical weights and
validation losses as `train_on_batch`, batch losses within float32 rounding (XLA fuses the
loss differently inside the scan) (tested). Compiled once per model and batch layout;
the warm fits of a walk-forward all share the first fit's.
"""

import weakref

from . import runtime

__all__ = ["batch_by_batch", "epoch_runner"]

_jax_epochs = weakref.WeakKeyDictionary()


def epoch_runner(model):
    """The function that trains `model` for one epoch under this process' Keras backend.

    Args:
        model: a compiled Keras model with a built optimizer.

    Returns:
        `run(inputs, targets, batches)`: one gradient step per batch, in order, where
        `batches` are arrays of row numbers into `inputs` and `targets` (float32); all but
        the last hold the same number of rows. Returns the batch losses, as Python floats.
    """
    if runtime.backend_name() != "jax":
        return batch_by_batch(model)
    if model not in _jax_epochs:
        # A weak reference: the cache must not keep a model alive through its own entry.
        _jax_epochs[model] = _JaxEpoch(weakref.proxy(model))
    return _jax_epochs[model]


def batch_by_batch(model):
    """`train_on_batch` per batch: the runner under TensorFlow and PyTorch (and, to compare
    with the jitted epoch, under JAX)."""
    return lambda inputs, targets, batches: [
        model.train_on_batch(inputs[rows], targets[rows]) for rows in batches]


class _JaxEpoch:
    """A whole epoch as one jitted call (see the module docstring)."""

    def __init__(self, model):
        import jax

        self.model = model
        self._epoch = jax.jit(self._steps)

    def __call__(self, inputs, targets, batches):
        import numpy as np

        model = self.model
        size = len(batches[0])
        equal = next((i for i, rows in enumerate(batches) if len(rows) != size), len(batches))
        rows = np.concatenate(batches[:equal])
        stacked = (inputs[rows].reshape(equal, size, *inputs.shape[1:]),
                   targets[rows].reshape(equal, size))
        rest = tuple((inputs[rows], targets[rows]) for rows in batches[equal:])
        variables = (model.trainable_variables, model.non_trainable_variables,
                     model.optimizer.variables)
        state = tuple([variable.value for variable in group] for group in variables)
        metrics = [variable.value for variable in model.metrics_variables]
        state, losses = self._epoch(state, metrics, stacked, rest)
        for group, values in zip(variables, state):
            for variable, value in zip(group, values):
                variable.assign(value)
        return np.asarray(losses).tolist()

    def _steps(self, state, metrics, stacked, rest):
        import jax
        import jax.numpy as jnp

        state, losses = jax.lax.scan(lambda now, batch: self._step(now, metrics, *batch),
                                     state, stacked)
        for inputs, targets in rest:
            state, loss = self._step(state, metrics, inputs, targets)
            losses = jnp.append(losses, loss)
        return state, losses

    def _step(self, state, metrics, inputs, targets):
        """Keras' `train_step` under JAX, less the metrics `train_on_batch` resets anyway."""
        import jax

        trainable, non_trainable, optimizer = state
        (_, (loss, _, non_trainable, _)), gradients = jax.value_and_grad(
            self.model.compute_loss_and_updates, has_aux=True)(
            trainable, non_trainable, metrics, inputs, targets, None, training=True,
            optimizer_variables=optimizer)
        trainable, optimizer = self.model.optimizer.stateless_apply(
            optimizer, gradients, trainable)
        return (trainable, non_trainable, optimizer), loss
