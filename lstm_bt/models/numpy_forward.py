"""The trained network's forward pass in NumPy, for the per-bar forecast.

One tiny sequence through `model.predict` costs far more in call overhead than the arithmetic;
this is the same arithmetic on the trained weights, the same under every backend. Layers:
`LSTM` (Keras defaults), `Dense` (linear or relu), `Dropout` (identity at inference).
"""

import numpy as np

from ..errors import InvalidParameter

__all__ = ["extract_layers", "forward"]

_ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
}


def extract_layers(model):
    """The weights of a trained Keras `Sequential` model as a tuple of float64 layers."""
    layers = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dropout":
            continue
        weights = [np.asarray(w, dtype=np.float64) for w in layer.get_weights()]
        if kind == "LSTM":
            layers.append(("lstm", *weights))
        elif kind == "Dense" and layer.activation.__name__ in _ACTIVATIONS:
            layers.append(("dense", *weights, layer.activation.__name__))
        else:
            raise InvalidParameter(
                f"Received an unsupported layer {layer.name!r} ({kind}) for the NumPy forward "
                f"pass, expected LSTM, Dense (linear or relu) or Dropout layers."
            )
    return tuple(layers)


def forward(layers, sequences):
    """The network's `(batch,)` output for `sequences`, `(batch, seq_len, n_features)`."""
    values = np.asarray(sequences, dtype=np.float64)
    for index, layer in enumerate(layers):
        if layer[0] == "lstm":
            more_lstm = any(later[0] == "lstm" for later in layers[index + 1:])
            values = _lstm(values, *layer[1:], return_sequences=more_lstm)
        else:
            _, kernel, bias, activation = layer
            values = _ACTIVATIONS[activation](values @ kernel + bias)
    return values[:, 0]


def _lstm(sequences, kernel, recurrent_kernel, bias, return_sequences):
    batch, steps, _ = sequences.shape
    units = recurrent_kernel.shape[0]
    # The input projection of every step at once; only the recurrence must run step by step.
    projected = sequences @ kernel + bias
    hidden = np.zeros((batch, units))
    cell = np.zeros((batch, units))
    outputs = np.empty((batch, steps, units)) if return_sequences else None
    for step in range(steps):
        z = projected[:, step]
        if step:
            z = z + hidden @ recurrent_kernel
        gates = 1.0 / (1.0 + np.exp(-z))
        candidate = np.tanh(z[:, 2 * units:3 * units])
        cell = gates[:, units:2 * units] * cell + gates[:, :units] * candidate
        hidden = gates[:, 3 * units:] * np.tanh(cell)
        if return_sequences:
            outputs[:, step] = hidden
    return outputs if return_sequences else hidden
