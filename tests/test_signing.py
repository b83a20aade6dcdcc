"""API keys and signatures: Binance's worked examples, Ed25519 round trips, secrets never shown."""

import base64
import logging
import os
import pickle

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from helpers.fake_exchange import FakeExchange
from lstm_bt.binance.account import SignedClient
from lstm_bt.binance.signing import ApiKey, load_api_key, query_string, ws_payload
from lstm_bt.errors import InvalidParameter

# Binance's documented example key (rest-api.md, "SIGNED Endpoint Examples for POST
# /api/v3/order"; web-socket-api.md, "SIGNED request example (HMAC)").
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_ORDER = {"symbol": "LTCBTC", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
             "quantity": 1, "price": 0.1, "recvWindow": 5000, "timestamp": 1499827319559}


def ed25519_pem(password=None):
    key = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            encryption)
    return key.public_key(), pem


def test_hmac_signature_is_binance_worked_example():
    key = ApiKey(DOC_API_KEY, hmac_secret=DOC_SECRET)
    payload = query_string(DOC_ORDER)
    assert payload == ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
                       "&recvWindow=5000&timestamp=1499827319559")
    assert key.sign(payload) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_non_ascii_symbol_is_percent_encoded_before_signing_as_documented():
    key = ApiKey(DOC_API_KEY, hmac_secret=DOC_SECRET)
    payload = query_string({**DOC_ORDER, "symbol": "１２３４５６"})
    assert payload.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&")
    assert key.sign(payload) == "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


def test_websocket_api_payload_and_signature_are_binance_worked_example():
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "0.01000000", "price": "52000.00", "recvWindow": 100,
              "timestamp": 1645423376532, "apiKey": DOC_API_KEY, "signature": "ignored"}
    payload = ws_payload(params)
    assert payload.startswith(f"apiKey={DOC_API_KEY}&price=52000.00&quantity=0.01000000&")
    assert ApiKey(DOC_API_KEY, hmac_secret=DOC_SECRET).sign(payload) == (
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24")


def test_ed25519_signature_verifies_with_the_public_key():
    public, pem = ed25519_pem()
    key = ApiKey("ed-key", ed25519_pem=pem)
    payload = query_string(DOC_ORDER)
    signature = base64.b64decode(key.sign(payload), validate=True)
    assert len(signature) == 64
    public.verify(signature, payload.encode())  # raises InvalidSignature when wrong
    with pytest.raises(Exception):
        public.verify(signature, payload.replace("BUY", "SELL").encode())


def test_repr_str_and_pickle_never_show_the_secret():
    public, pem = ed25519_pem()
    for key, secret in ((ApiKey(DOC_API_KEY, hmac_secret=DOC_SECRET), DOC_SECRET),
                        (ApiKey(DOC_API_KEY, ed25519_pem=pem), pem.decode())):
        shown = repr(key) + str(key) + f"{key}" + repr(getattr(key, "__dict__", ""))
        assert secret not in shown and "PRIVATE" not in shown
        assert DOC_API_KEY not in shown
        with pytest.raises(TypeError, match="not pickled"):
            pickle.dumps(key)


def test_keys_load_from_environment_and_key_files(tmp_path):
    env = {"LSTM_BT_API_KEY": "k", "LSTM_BT_API_SECRET": DOC_SECRET}
    assert load_api_key(environ=env).kind == "hmac"
    _, pem = ed25519_pem("pw")
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    key = load_api_key(key_file, environ={"LSTM_BT_API_KEY": "k", "LSTM_BT_KEY_PASSWORD": "pw"})
    assert key.kind == "ed25519"
    secret_file = tmp_path / "secret"
    secret_file.write_text(DOC_SECRET + "\n")
    secret_file.chmod(0o600)
    assert load_api_key(secret_file, environ={"LSTM_BT_API_KEY": "k"}).sign("a") == ApiKey(
        "k", hmac_secret=DOC_SECRET).sign("a")


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_bad_keys_are_refused_in_one_line_without_the_secret(tmp_path):
    def refusal(key_file=None, **env):
        with pytest.raises(InvalidParameter) as caught:
            load_api_key(key_file, environ=env)
        message = str(caught.value)
        assert "\n" not in message and DOC_SECRET not in message
        return message

    assert "LSTM_BT_API_SECRET" in refusal(LSTM_BT_API_KEY="k")
    assert "LSTM_BT_API_KEY" in refusal(LSTM_BT_API_SECRET=DOC_SECRET)
    shared = tmp_path / "shared"
    shared.write_text(DOC_SECRET)
    shared.chmod(0o644)
    assert "chmod 600" in refusal(shared, LSTM_BT_API_KEY="k")
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    assert "Ed25519" in refusal(LSTM_BT_API_KEY="k", LSTM_BT_API_SECRET=ec_key.decode())
    _, locked = ed25519_pem("pw")
    assert "LSTM_BT_KEY_PASSWORD" in refusal(LSTM_BT_API_KEY="k",
                                             LSTM_BT_API_SECRET=locked.decode())
    assert "Cannot read the key file" in refusal(tmp_path / "missing", LSTM_BT_API_KEY="k")


def test_signed_requests_log_no_secret(caplog):
    caplog.set_level(logging.DEBUG)
    with FakeExchange() as exchange:
        exchange.add_hmac_key("k", DOC_SECRET)
        with SignedClient(ApiKey("k", hmac_secret=DOC_SECRET), exchange.url) as client:
            client.account()
            exchange.inject("bad_timestamp", times=2)
            with pytest.raises(Exception) as caught:
                client.open_orders("BTCUSDT")
    assert DOC_SECRET not in caplog.text and DOC_SECRET not in str(caught.value)
    assert "-1021" in str(caught.value)
