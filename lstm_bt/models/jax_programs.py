"""Under JAX: the jitted programs of one model architecture, shared by all its models.

The epoch, forecast and validation programs are pure functions of the variables they are
given, so one compilation, traced through a template model, serves every model of an
architecture in the process. The first call of an input shape traces under a lock.
"""

import threading
import weakref

__all__ = ["Programs", "compiled_forward", "own", "shared"]

_lock = threading.Lock()
_live = weakref.WeakValueDictionary()  # architecture key -> Programs some caller still holds
_last = None  # the programs last handed out, kept for the next model when nobody holds them
_own = weakref.WeakKeyDictionary()


def compiled_forward(model, programs=None):
    """`model`'s forward pass with its current weights, jitted, or None where NumPy's is faster.

    Under JAX on the CPU a jitted call beats the NumPy pass; under TensorFlow and PyTorch, or
    on an accelerator (a device round trip per bar), it does not, and this returns None. The
    weights are read when this is called: call it again after training.

    Args:
        model: a built Keras model.
        programs: the `Programs` to run (shared by the models of one architecture). Defaults
            to `None`: `model`'s own.

    Returns:
        A function of `(batch, seq_len, n_features)` sequences returning `(batch,)` float64
        outputs, or None.
    """
    from .backend import backend_name

    if backend_name() != "jax":
        return None
    import jax
    import numpy as np

    if jax.default_backend() != "cpu":
        return None
    programs = own(model) if programs is None else programs
    weights = [variable.value for variable in model.trainable_variables]
    state = [variable.value for variable in model.non_trainable_variables]
    return lambda sequences: np.asarray(programs.forward(
        weights, state, np.asarray(sequences, dtype=np.float32)), dtype=np.float64)[:, 0]


def shared(key, make_template, model):
    """The programs of `model`'s architecture, shared with every model of it.

    Args:
        key: a hashable description of the architecture (what the builder is given but seeds).
        make_template: builds a compiled model of it with a built optimizer.
        model: the model that will run them; `own(model)` is returned when it does not fit.
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
    """Programs traced through `model` itself, held weakly."""
    with _lock:
        if model not in _own:
            _own[model] = Programs(weakref.proxy(model))
        return _own[model]


class Programs:
    """The jitted functions of one architecture, traced through `template`."""

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
        """Whether `model`'s variables have the template's shapes and dtypes."""
        return _variable_signature(model) == self._signature

    def forward(self, weights, state, inputs):
        """The model's output for `inputs`, as a forecast computes it."""
        return self._call(self._forward, ("forward", inputs.shape, inputs.dtype), weights, state,
                          inputs)

    def predict(self, weights, state, inputs):
        """The model's output for `inputs`, as `predict_on_batch` computes it."""
        return self._call(self._predict, ("predict", inputs.shape, inputs.dtype), weights, state,
                          inputs)

    def epoch(self, state, inputs, targets, order, size):
        """One epoch of gradient steps over the batches of `size` rows that `order` cuts.

        `state` is `(trainable, non_trainable, optimizer)` values; returns the new state and losses.
        """
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
        """Keras' `train_step` under JAX, less the metrics."""
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
