"""The gradient steps of one fit, epoch by epoch, over the batches the forecaster's loop cut.

Under TensorFlow and PyTorch: `train_on_batch` per batch, Keras' compiled train step called
from Python, on the model itself. Under JAX that call pays more Python than its gradient step
is worth (converting the batch, finding the train function, copying every variable back into
the model after every batch: ~2 of ~5 ms a step of the reference model on 2 cores), so there
the whole epoch is one jitted call (`jax_programs.Programs.epoch`): the same stateless step
`train_on_batch` compiles (Keras' `compute_loss_and_updates`, then
`optimizer.stateless_apply`), in a `lax.scan` over the equal-size batches and then once more
for the smaller last batch. The samples go to the program once a fit; each epoch sends only
its order of rows, gathered inside the program. Weights, optimizer state and the dropout seed
state stay JAX arrays for the whole fit: the validation pass reads them, early stopping keeps
the best epoch's arrays (immutable, so nothing is copied) and they are written back into the
model once, when the fit ends. Same batches in the same order: byte-identical weights and
validation losses as `train_on_batch`, batch losses within float32 rounding (XLA fuses the loss
differently inside the scan) (tested). Compiled once per architecture and batch layout when the
caller passes shared programs (the forecaster does: every model of a process with the same
layers shares them), else once per model.
"""

from . import runtime

__all__ = ["batch_by_batch", "epoch_runner"]


def epoch_runner(model, programs=None):
    """What trains `model` for one fit, epoch by epoch, under this process' Keras backend.

    Args:
        model: a compiled Keras model with a built optimizer.
        programs: under JAX, the `jax_programs.Programs` to run (shared by the models of one
            architecture); None: `model`'s own. Ignored by other backends. Defaults to `None`.

    Returns:
        A runner for one fit. `run(inputs, targets, batches)` makes one gradient step per
        batch, in order, where `batches` are arrays of row numbers into `inputs` and
        `targets` (float32, the same arrays at every call); all but the last hold the same
        number of rows. Returns the batch losses, as Python floats. Between epochs it stands
        for the model being trained, as early stopping reads one: `predict_on_batch`,
        `get_weights`, `set_weights`. `finish()` leaves the trained values in `model`.
    """
    if runtime.backend_name() != "jax":
        return batch_by_batch(model)
    if programs is None:
        from . import jax_programs

        programs = jax_programs.own(model)
    return _JaxEpochs(model, programs)


def batch_by_batch(model):
    """`train_on_batch` per batch on `model` itself: the runner under TensorFlow and PyTorch
    (and, to compare with the jitted epoch, under JAX)."""
    return _BatchByBatch(model)


class _BatchByBatch:
    def __init__(self, model):
        self.model = model

    def __call__(self, inputs, targets, batches):
        return [self.model.train_on_batch(inputs[rows], targets[rows]) for rows in batches]

    def predict_on_batch(self, inputs):
        return self.model.predict_on_batch(inputs)

    def get_weights(self):
        return self.model.get_weights()

    def set_weights(self, weights):
        self.model.set_weights(weights)

    def finish(self):
        """Nothing: every step trained the model itself."""


class _JaxEpochs:
    """A whole epoch as one jitted call, the variables kept as JAX arrays for the fit (see the
    module docstring)."""

    def __init__(self, model, programs):
        self.model, self.programs = model, programs
        self._variables = (model.trainable_variables, model.non_trainable_variables,
                           model.optimizer.variables)
        self._state = None  # read from the model when first needed, written back by `finish`
        # Where `get_weights` reads: the model's weights (not the seed generators' state nor
        # the optimizer's), as positions in the first two groups of the state.
        weights = {id(variable) for variable in model.weights}
        self._weight_places = [(group, index) for group in (0, 1)
                               for index, variable in enumerate(self._variables[group])
                               if id(variable) in weights]
        self._samples = None

    def __call__(self, inputs, targets, batches):
        import numpy as np

        if self._samples is None or self._samples[0] is not inputs:
            import jax

            self._samples = (inputs, jax.device_put(inputs), jax.device_put(targets))
        _, on_device, target_values = self._samples
        order = np.concatenate(batches)
        self._state, losses = self.programs.epoch(self._values(), on_device, target_values,
                                                  order, len(batches[0]))
        return np.asarray(losses).tolist()

    def predict_on_batch(self, inputs):
        trainable, non_trainable, _ = self._values()
        return self.programs.predict(trainable, non_trainable, inputs)

    def get_weights(self):
        state = self._values()
        return [state[group][index] for group, index in self._weight_places]

    def set_weights(self, weights):
        state = self._values()
        for (group, index), value in zip(self._weight_places, weights, strict=True):
            state[group][index] = value

    def finish(self):
        if self._state is None:
            return
        for group, values in zip(self._variables, self._state):
            for variable, value in zip(group, values):
                variable.assign(value)
        self._state = None

    def _values(self):
        # Read when the fit starts, not when the runner is made: a Keras train step run on the
        # model in between (`train_on_batch` donates its buffers) would delete what was read.
        if self._state is None:
            self._state = tuple([variable.value for variable in group]
                                for group in self._variables)
        return self._state
