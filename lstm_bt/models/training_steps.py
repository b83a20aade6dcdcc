"""One epoch of gradient steps over the batches the forecaster's training loop cut.

Under TensorFlow and PyTorch: `train_on_batch` per batch, Keras' compiled train step called
from Python. Under JAX that call pays more Python than its gradient step is worth (converting
the batch, finding the train function, copying every variable back into the model after every
batch: ~2 of ~5 ms a step of the reference model on 2 cores), so there the whole epoch is
one jitted call (`jax_programs.Programs.epoch`): the same stateless step `train_on_batch`
compiles (Keras' `compute_loss_and_updates`, then `optimizer.stateless_apply`), in a
`lax.scan` over the equal-size batches and then once more for the smaller last batch. Weights,
optimizer state and the dropout seed state go in and come out as JAX arrays, written back into
the model once an epoch (early stopping reads it). Same batches in the same order:
byte-identical weights and validation losses as `train_on_batch`, batch losses within float32
rounding (XLA fuses the loss differently inside the scan) (tested). Compiled once per
architecture and batch layout when the caller passes shared programs (the forecaster does:
every model of a process with the same layers shares them), else once per model.
"""

from . import runtime

__all__ = ["batch_by_batch", "epoch_runner"]


def epoch_runner(model, programs=None):
    """The function that trains `model` for one epoch under this process' Keras backend.

    Args:
        model: a compiled Keras model with a built optimizer.
        programs: under JAX, the `jax_programs.Programs` to run (shared by the models of one
            architecture); None: `model`'s own. Ignored by other backends. Defaults to `None`.

    Returns:
        `run(inputs, targets, batches)`: one gradient step per batch, in order, where
        `batches` are arrays of row numbers into `inputs` and `targets` (float32); all but
        the last hold the same number of rows. Returns the batch losses, as Python floats.
    """
    if runtime.backend_name() != "jax":
        return batch_by_batch(model)
    if programs is None:
        from . import jax_programs

        programs = jax_programs.own(model)
    return lambda inputs, targets, batches: _jax_epoch(model, programs, inputs, targets,
                                                       batches)


def batch_by_batch(model):
    """`train_on_batch` per batch: the runner under TensorFlow and PyTorch (and, to compare
    with the jitted epoch, under JAX)."""
    return lambda inputs, targets, batches: [
        model.train_on_batch(inputs[rows], targets[rows]) for rows in batches]


def _jax_epoch(model, programs, inputs, targets, batches):
    """A whole epoch as one jitted call (see the module docstring)."""
    import numpy as np

    size = len(batches[0])
    equal = next((i for i, rows in enumerate(batches) if len(rows) != size), len(batches))
    rows = np.concatenate(batches[:equal])
    stacked = (inputs[rows].reshape(equal, size, *inputs.shape[1:]),
               targets[rows].reshape(equal, size))
    rest = tuple((inputs[rows], targets[rows]) for rows in batches[equal:])
    variables = (model.trainable_variables, model.non_trainable_variables,
                 model.optimizer.variables)
    state = tuple([variable.value for variable in group] for group in variables)
    state, losses = programs.epoch(state, stacked, rest)
    for group, values in zip(variables, state):
        for variable, value in zip(group, values):
            variable.assign(value)
    return np.asarray(losses).tolist()
