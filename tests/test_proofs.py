"""Proof primitives: canonical JSON agrees with the rfc8785 reference, keys, JWKS."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from arka.base.errors import ArkaError
from arka.trust.proofs import (
    KeyRing,
    SigningKeyError,
    canonical,
    load_public_keys,
    public_jwk,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) |
    st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) |
    st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20)


@given(JSON)
def test_canonical_matches_the_reference_implementation(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.IntegerDomainError, rfc8785.FloatDomainError):
        # outside the I-JSON number range the reference refuses; ours is checked by the
        # cases below (exact text for numbers a double cannot hold)
        return
    assert canonical(value) == expected


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [1.5, "x", None, True]}, {"\U0001f600": 1, "\ue000": 2}, 1.0, 1e21, 1e-7,
    2**53 + 1, {"k": "line\nbreak\u2028\x7f"}, -0.0, 0.1 + 0.2,
])
def test_canonical_edge_cases(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(ArkaError) as info:
            canonical(value)
        assert info.value.code == "E_CANONICAL", info.value
        return
    assert canonical(value) == expected


@pytest.mark.parametrize("edge", [2**53, -(2**53)])
def test_the_largest_exact_integers_canonicalise_whatever_surrounds_them(edge: int) -> None:
    # the fast path takes [edge]; [edge, 1.0] goes through rfc8785, which refuses the
    # integer itself: both must give the bytes ECMAScript prints for the double
    text = str(edge).encode()
    assert canonical([edge]) == b"[" + text + b"]"
    assert canonical([edge, 1.0]) == b"[" + text + b",1]" == rfc8785.dumps([float(edge), 1])
    assert canonical({"\U0001f600": edge}) == rfc8785.dumps({"\U0001f600": float(edge)})
    with pytest.raises(ArkaError):
        canonical([edge + (1 if edge > 0 else -1), 1.0])


def test_keyring_rotation_and_jwks(tmp_path: Any) -> None:
    ring = KeyRing.open(tmp_path / "k")
    first = ring.active_id
    again = KeyRing.open(tmp_path / "k")
    assert again.active_id == first  # persisted
    second = again.rotate()
    reopened = KeyRing.open(tmp_path / "k")
    assert reopened.active_id == second and set(reopened.keys) == {first, second}
    jwks = reopened.jwks()
    assert {k["kid"] for k in jwks["keys"]} == {first, second}
    assert set(load_public_keys(jwks)) == {first, second}
    one = public_jwk(reopened.active.public_key())
    assert load_public_keys(one).keys() == {second}


@pytest.mark.parametrize("data", ['{"kty": "RSA"}', "not json", '{"kty": "OKP", "crv": "Ed25519", '
                                  '"x": "AAAA"}', "[1, 2]"])
def test_bad_public_keys_are_rejected(data: str) -> None:
    with pytest.raises(SigningKeyError):
        load_public_keys(data)


def test_signing_key_from_the_environment(tmp_path: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    ring = KeyRing.open(None, pem)
    assert ring.active_id.startswith("ed25519-")
    with pytest.raises(SigningKeyError):
        KeyRing.open(None, "garbage")
    with pytest.raises(SigningKeyError):
        KeyRing.open(None, None)


def test_canonical_takes_the_deepest_value_it_allows_and_refuses_deeper_cleanly() -> None:
    from arka.trust.canonical import MAX_DEPTH
    for leaf in (1, 1e21):  # the json.dumps path and the rfc8785 path
        value: Any = leaf
        for _ in range(MAX_DEPTH):
            value = [value] if isinstance(value, list) or value == leaf else {"k": value}
        assert canonical(value)
        with pytest.raises(ArkaError) as info:
            canonical({"deeper": value})
        assert info.value.code == "E_CANONICAL"
    flat: Any = 1
    for _ in range(100_000):  # far beyond the recursion limit: still a clean refusal
        flat = [flat]
    with pytest.raises(ArkaError) as deep:
        canonical(flat)
    assert deep.value.code == "E_CANONICAL", deep.value
