"""API keys and the signatures of Binance's SIGNED requests (HMAC-SHA256 hex, Ed25519 base64).

REST signs the query string as sent (percent-encoded); the WebSocket API its params sorted by
name. The secret lives inside the signer: repr and str show the key type and four characters of
the API key, and a key cannot be pickled.

Example:
    >>> key = ApiKey("my-api-key", hmac_secret="my-secret")
    >>> key
    ApiKey(hmac, 'my-a...')
    >>> key.sign("symbol=LTCBTC&timestamp=1")[:16]
    '4e4f99e970daa692'
"""

import base64
import hashlib
import hmac
import os
import stat
from pathlib import Path
from urllib.parse import quote

from ..errors import InvalidParameter

__all__ = ["ApiKey", "load_api_key", "query_string", "ws_payload",
           "API_KEY_ENV", "API_SECRET_ENV", "KEY_PASSWORD_ENV"]

API_KEY_ENV = "LSTM_BT_API_KEY"
API_SECRET_ENV = "LSTM_BT_API_SECRET"
KEY_PASSWORD_ENV = "LSTM_BT_KEY_PASSWORD"
_PEM_START = "-----BEGIN"


class ApiKey:
    """A Binance API key and the means to sign with it; the secret is never shown.

    Args:
        api_key: the API key Binance shows (sent as `X-MBX-APIKEY`).
        hmac_secret: the secret key of an HMAC API key.
        ed25519_pem: an Ed25519 private key in PEM, bytes or text (the key registered with
            Binance is its public half).
        password: the PEM's password, if it is encrypted. Defaults to `None`.

    Exactly one of `hmac_secret` and `ed25519_pem` is given.
    """

    __slots__ = ("api_key", "kind", "_sign")

    def __init__(self, api_key, *, hmac_secret=None, ed25519_pem=None, password=None):
        if not isinstance(api_key, str) or not api_key.strip():
            raise InvalidParameter(
                f"No API key: set {API_KEY_ENV} to the API key Binance shows for your key.")
        if (hmac_secret is None) == (ed25519_pem is None):
            raise InvalidParameter("Give an ApiKey either `hmac_secret` or `ed25519_pem`.")
        self.api_key = api_key.strip()
        if hmac_secret is not None:
            self.kind = "hmac"
            self._sign = _hmac_signer(hmac_secret)
        else:
            self.kind = "ed25519"
            self._sign = _ed25519_signer(ed25519_pem, password)

    def sign(self, payload):
        """The signature of `payload` (text): hex for HMAC, base64 for Ed25519."""
        return self._sign(payload.encode("utf-8"))

    def __repr__(self):
        return f"ApiKey({self.kind}, {self.api_key[:4] + '...'!r})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("An ApiKey is not pickled: its secret would travel with it.")


def query_string(params):
    """The query string Binance signs and receives: `k=v` joined by `&`, percent-encoded UTF-8,
    in the order of `params` (a dict or pairs)."""
    items = params.items() if isinstance(params, dict) else params
    return "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in items)


def ws_payload(params):
    """The text a WebSocket API request signs: its params but `signature`, sorted by name, as
    `k=v` joined by `&`, not percent-encoded."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")


def load_api_key(key_file=None, *, environ=None):
    """The `ApiKey` to trade with: the API key from `LSTM_BT_API_KEY`, the secret (an HMAC
    secret, or an Ed25519 private key in PEM, its password in `LSTM_BT_KEY_PASSWORD`) from
    `key_file` or `LSTM_BT_API_SECRET`. A missing, unreadable, shared or unusable key is an
    `InvalidParameter` naming the variable or file, never the secret.

    Args:
        key_file: the secret's file. Defaults to `None`: `LSTM_BT_API_SECRET`.
        environ: where the variables are read. Defaults to `None`: `os.environ`.
    """
    environ = os.environ if environ is None else environ
    api_key = environ.get(API_KEY_ENV, "")
    password = environ.get(KEY_PASSWORD_ENV) or None
    if key_file is not None:
        secret, source = _read_key_file(Path(key_file)), f"key file {str(key_file)!r}"
    else:
        secret, source = environ.get(API_SECRET_ENV, ""), API_SECRET_ENV
        if not secret.strip():
            raise InvalidParameter(
                f"No API secret: set {API_KEY_ENV} and {API_SECRET_ENV} (or give a key file "
                f"with `--key-file`); --paper needs no keys.")
    text = secret.strip()
    if text.startswith(_PEM_START):
        try:
            return ApiKey(api_key, ed25519_pem=text.encode(), password=password)
        except (ValueError, TypeError) as error:
            raise InvalidParameter(
                f"The {source} holds a PEM key that is not a usable Ed25519 private key "
                f"({_why(error)}); give the private key whose public half is registered with "
                f"Binance (and its password in {KEY_PASSWORD_ENV} if it has one).") from None
    if not text or any(c.isspace() for c in text):
        raise InvalidParameter(
            f"The {source} holds no HMAC secret (one line, no spaces) and no Ed25519 PEM key.")
    return ApiKey(api_key, hmac_secret=text)


def _read_key_file(path):
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidParameter(
            f"Cannot read the key file {str(path)!r} ({type(error).__name__}); check "
            f"`--key-file`.") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidParameter(
            f"The key file {str(path)!r} can be read by other users; run `chmod 600 {path}`.")
    return text


def _why(error):
    """An error's type and first line, which for a key never contains the key."""
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def _hmac_signer(secret):
    # The secret lives only inside the HMAC object; each signature works on a copy of it.
    keyed = hmac.new(secret.encode("utf-8") if isinstance(secret, str) else bytes(secret),
                     digestmod=hashlib.sha256)

    def sign(payload):
        mac = keyed.copy()
        mac.update(payload)
        return mac.hexdigest()

    return sign


def _ed25519_signer(pem, password):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    pem = pem.encode() if isinstance(pem, str) else pem
    key = load_pem_private_key(pem, password=password.encode() if password else None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"a {type(key).__name__.removeprefix('_')}, not an Ed25519 key")

    def sign(payload):
        return base64.b64encode(key.sign(payload)).decode("ascii")

    return sign
