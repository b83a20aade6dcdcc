"""Under JAX: the jitted programs of one model architecture, shared by all its models.

A forecaster's model runs three jitted functions: an epoch of gradient steps
(`training_steps`), the forward pass that forecasts (`runtime.compiled_forward`) and the one
that scores held-out samples (`early_stopping`). Each is a pure function of the variables it
is given; Keras needs a model only to trace it. Tracing and compiling the three costs ~1.3 s
a model on 2 cores, against ~0.15 s for a whole warm fit, and a process that builds many
models of one architecture (the reference year run three times, a sweep's worker building one
model per walk-forward) would pay it every time.

So `shared` builds the programs around a *template*: a model of the architecture made by the
caller's own builder, never a user's model. Every model of that architecture calls them with
its own variables: the same XLA programs on the same inputs, hence byte-identical weights and
forecasts to a model with programs of its own (tested). A model is admitted only when its
variables have the template's shapes and dtypes; otherwise, or when no template is offered,
it gets programs of its own (`own`), traced through a weak reference so no cache keeps a model
alive. Programs live while a caller holds them (a forecaster keeps its model's); of those no
caller holds, only the last one handed out is kept, so threads training models of different
architectures side by side never evict each other's.

Tracing touches the template's Python state (Keras builds its loss tracker on the first call),
so the first call of each input shape and dtype traces under a lock; later calls run side by
side.
"""

import threading
import weakref

__all__ = ["Programs", "own", "shared"]

_lock = threading.Lock()
_live = weakref.WeakValueDictionary()  # architecture key -> Programs some caller still holds
_last = None  # the programs last handed out, kept for the next model when nobody holds them
_own = weakref.WeakKeyDictionary()


def shared(key, make_template, model):
    """The programs of `model`'s architecture, shared with every model of it.

    Callers keep what they get for as long as their model lives (the forecaster does), so
    every architecture in use keeps its programs; of those no longer in use, only the last
    one handed out is kept (its template and compiled code, a few MB), for the next model.

    Args:
        key: a hashable description of the architecture: everything the builder is given
            except seeds (e.g. the forecaster's layer widths, input shape, dtype policy).
        make_template: builds a compiled model of that architecture with a built optimizer
            (called when no programs of `key` are alive; its weights are never used).
        model: the model that will run them; checked against the template.

    Returns:
        A `Programs`; `model`'s own (`own(model)`) when its variables do not match the
        template's.
    """
    global _last
    with _lock:
        programs = _live.get(key)
        if programs is None:
            _last = None  # let an unused template go before building the next
            programs = _live[key] = Programs(make_template())
        _last = programs
    return programs if programs.fits(model) else own(model)


def own(model):
    """Programs traced through `model` itself (weakly held), compiled once per model."""
    with _lock:
        if model not in _own:
            _own[model] = Programs(weakref.proxy(model))
        return _own[model]


class Programs:
    """The jitted functions of one architecture, traced through `template`.

    `template` is a compiled Keras model with a built optimizer (or a weak proxy of one).
    """

    def __init__(self, template):
        import jax

        self.template = template
        self._signature = _variable_signature(template)
        self._traced = set()
        self._trace_lock = threading.Lock()
        self._forward = jax.jit(lambda weights, state, inputs: template.stateless_call(
            weights, state, inputs)[0])
        self._predict = jax.jit(lambda weights, state, inputs: template.stateless_call(
            weights, state, inputs, training=False)[0])
        self._epoch = jax.jit(self._steps, static_argnames="size")

    def fits(self, model):
        """Whether `model`'s variables have the template's shapes and dtypes, in order."""
        return _variable_signature(model) == self._signature

    def forward(self, weights, state, inputs):
        """The model's output for `inputs` (`(batch, seq_len, n_features)` float32), as a
        forecast computes it (Keras' default `training`)."""
        return self._call(self._forward, ("forward", inputs.shape, inputs.dtype), weights, state,
                          inputs)

    def predict(self, weights, state, inputs):
        """The model's outputs for `inputs` with the variable values `weights` (trainable) and
        `state` (non-trainable), as `predict_on_batch` computes them (`training=False`)."""
        return self._call(self._predict, ("predict", inputs.shape, inputs.dtype), weights, state,
                          inputs)

    def epoch(self, state, inputs, targets, order, size):
        """One epoch of gradient steps over the batches `order` cuts from `(inputs,
        targets)`: its first `size` row numbers, the next `size`, ..., the last batch holding
        what is left. The rows are gathered inside the program (the samples go to it once a
        fit, not once an epoch); the equal-size batches run in a `lax.scan`, then the smaller
        last one. `state` is `(trainable, non_trainable, optimizer)` values; returns the new
        state and the batch losses."""
        shapes = ("epoch", inputs.shape, inputs.dtype, targets.shape, order.shape, size)
        metrics = [variable.value for variable in self.template.metrics_variables]
        return self._call(self._epoch, shapes, state, metrics, inputs, targets, order, size)

    def _call(self, function, shapes, *args):
        if shapes in self._traced:
            return function(*args)
        with self._trace_lock:
            result = function(*args)
            self._traced.add(shapes)
        return result

    def _steps(self, state, metrics, inputs, targets, order, size):
        import jax
        import jax.numpy as jnp

        equal = len(order) // size
        rows = order[:equal * size].reshape(equal, size)
        state, losses = jax.lax.scan(lambda now, batch: self._step(now, metrics, *batch),
                                     state, (inputs[rows], targets[rows]))
        if equal * size < len(order):
            rows = order[equal * size:]
            state, loss = self._step(state, metrics, inputs[rows], targets[rows])
            losses = jnp.append(losses, loss)
        return state, losses

    def _step(self, state, metrics, inputs, targets):
        """Keras' `train_step` under JAX, less the metrics `train_on_batch` resets anyway."""
        import jax

        template = self.template
        trainable, non_trainable, optimizer = state
        (_, (loss, _, non_trainable, _)), gradients = jax.value_and_grad(
            template.compute_loss_and_updates, has_aux=True)(
            trainable, non_trainable, metrics, inputs, targets, None, training=True,
            optimizer_variables=optimizer)
        trainable, optimizer = template.optimizer.stateless_apply(
            optimizer, gradients, trainable)
        return (trainable, non_trainable, optimizer), loss


def _variable_signature(model):
    groups = (model.trainable_variables, model.non_trainable_variables,
              model.optimizer.variables)
    return (model.dtype_policy.name,) + tuple(
        tuple((tuple(variable.shape), str(variable.dtype)) for variable in group)
        for group in groups)
