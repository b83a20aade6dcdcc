"""The trained network's forward pass in plain NumPy, for the per-bar forecast.

`model.predict` pays tens of milliseconds of Keras/TensorFlow call overhead for one tiny
sequence; a backtest asks for one forecast per bar. The same arithmetic on the trained weights
in NumPy costs a fraction of a millisecond, works the same under every Keras backend, and is
checked against `model.predict` in the tests.

Supported layers: `LSTM` (Keras defaults: tanh activation, sigmoid recurrent activation, gate
order input, forget, cell, output; `kernel`, `recurrent_kernel`, `bias`), `Dense` with a
linear or relu activation, and `Dropout` (the identity at inference).
"""

import numpy as np

from ..errors import InvalidParameter

__all__ = ["extract_layers", "forward"]

_ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
}


def extract_layers(model):
    """Copy a trained Keras `Sequential` model's weights into a NumPy layer list.

    Args:
        model: a built Keras model made of LSTM, Dense and Dropout layers.

    Returns:
        A tuple of `("lstm", kernel, recurrent_kernel, bias)` and
        `("dense", kernel, bias, activation_name)` entries, float64.
    """
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
    """Run the network on a batch of input sequences.

    Args:
        layers: output of `extract_layers`.
        sequences: array `(batch, seq_len, n_features)`.

    Returns:
        The model output, `(batch,)` float64 (the last Dense layer has one unit).
    """
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
