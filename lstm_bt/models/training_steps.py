"""The gradient steps of one fit, epoch by epoch, over the batches the forecaster cut.

`train_on_batch` per batch under TensorFlow and PyTorch. Under JAX that call costs more Python
than its step, so an epoch is one jitted call of the same stateless step, with the variables
kept as JAX arrays until the fit ends: the same weights, byte for byte.
"""

from .backend import backend_name

__all__ = ["batch_by_batch", "epoch_runner"]


def epoch_runner(model, programs=None):
    """What trains `model` for one fit, epoch by epoch, under the process's backend.

    The runner's call makes one gradient step per batch of row numbers and returns the losses;
    between epochs it stands for the model (`predict_on_batch`, `get_weights`, `set_weights`);
    `finish()` writes the trained values into `model`.

    Args:
        model: a compiled Keras model with a built optimizer.
        programs: under JAX, the `jax_programs.Programs` to run. Defaults to `None`: `model`'s own.
    """
    if backend_name() != "jax":
        return batch_by_batch(model)
    if programs is None:
        from . import jax_programs

        programs = jax_programs.own(model)
    return _JaxEpochs(model, programs)


def batch_by_batch(model):
    """`train_on_batch` per batch on `model` itself."""
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
        pass


class _JaxEpochs:
    """An epoch as one jitted call, the variables kept as JAX arrays for the fit."""

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
