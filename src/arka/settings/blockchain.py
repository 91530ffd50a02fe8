"""The `blockchain:` configuration block (`docs/api.md`, "Anchoring"), as chain configs.

    blockchain:
      enabled: true
      anchor: { batch_entries: 1000, batch_minutes: 10, poll_seconds: 15 }   # optional
      networks:
        ethereum:
          enabled: true
          rpc_url: ${ETHEREUM_RPC_URL}
          contract_address: ${ETHEREUM_CONTRACT_ADDRESS}
          confirmation_blocks: 12
          private_key_env: ARKA_ETHEREUM_PRIVATE_KEY   # optional; this is the default

`${VAR}` and `${VAR:-default}` are replaced from the environment. The operator account's
private key is never in the file: it is read from the named environment variable.
`rpc_url: eth-tester://` selects the in-process development chain (the contract is
deployed on first use when no address is given).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from arka.base.boundary import BoundaryError, load_yaml
from arka.base.errors import ArkaError
from arka.trust.chain import DEV_CHAIN, AnchorPolicy, ChainConfig

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
NETWORK_KEYS = {"enabled", "rpc_url", "contract_address", "confirmation_blocks",
                "private_key_env"}


class ConfigError(ArkaError):
    code = "E_CONFIG"


def substitute(value: Any, env: Mapping[str, str], path: str) -> Any:
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(f"{path}: environment variable {name} is not set")
        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: substitute(v, env, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def parse_blockchain(doc: Any, env: Mapping[str, str] | None = None
                     ) -> tuple[list[ChainConfig], AnchorPolicy, float]:
    """Chains, batching policy and poll interval; ConfigError names the bad key."""
    env = os.environ if env is None else env
    if isinstance(doc, dict) and "blockchain" in doc:
        doc = doc["blockchain"]
    if not isinstance(doc, dict):
        raise ConfigError("blockchain: must be a mapping")
    extra = set(doc) - {"enabled", "networks", "anchor"}
    if extra:
        raise ConfigError(f"blockchain.{sorted(extra)[0]}: unknown key")
    if doc.get("enabled", True) is False:
        return [], AnchorPolicy(), 15.0
    anchor = doc.get("anchor") or {}
    if not isinstance(anchor, dict) or set(anchor) - {"batch_entries", "batch_minutes",
                                                      "poll_seconds"}:
        raise ConfigError("blockchain.anchor: expected batch_entries, batch_minutes, "
                          "poll_seconds")
    try:
        policy = AnchorPolicy(int(anchor.get("batch_entries", 1000)),
                              float(anchor.get("batch_minutes", 10)))
        poll = float(anchor.get("poll_seconds", 15))
    except (TypeError, ValueError):
        raise ConfigError("blockchain.anchor: numbers expected") from None
    networks = doc.get("networks") or {}
    if not isinstance(networks, dict):
        raise ConfigError("blockchain.networks: must be a mapping of network name to settings")
    chains = []
    for name, raw in networks.items():
        path = f"blockchain.networks.{name}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: must be a mapping")
        unknown = set(raw) - NETWORK_KEYS
        if unknown:
            raise ConfigError(f"{path}.{sorted(unknown)[0]}: unknown key")
        if raw.get("enabled", True) is False:
            continue
        net = substitute(raw, env, path)
        rpc = net.get("rpc_url")
        if not isinstance(rpc, str) or not (rpc.startswith(("http://", "https://")) or
                                            rpc == DEV_CHAIN):
            raise ConfigError(f"{path}.rpc_url: expected an http(s) URL or {DEV_CHAIN}")
        confirmations = net.get("confirmation_blocks", 12)
        if not isinstance(confirmations, int) or isinstance(confirmations, bool) or \
                confirmations < 1:
            raise ConfigError(f"{path}.confirmation_blocks: a positive integer")
        address = net.get("contract_address") or None
        if address is not None and not re.fullmatch(r"0x[0-9a-fA-F]{40}", str(address)):
            raise ConfigError(f"{path}.contract_address: expected a 0x-prefixed 20-byte address")
        key_env = net.get("private_key_env") or f"ARKA_{name.upper()}_PRIVATE_KEY"
        key = env.get(key_env)
        if key is None and rpc != DEV_CHAIN:
            raise ConfigError(f"{path}: the operator key must be in ${key_env}")
        chains.append(ChainConfig(name, rpc, address, confirmations, key))
    return chains, policy, poll


def load_blockchain_file(path: str, env: Mapping[str, str] | None = None
                         ) -> tuple[list[ChainConfig], AnchorPolicy, float]:
    try:  # within the input bounds: nesting, alias expansion (arka.base.boundary)
        with open(path, encoding="utf-8") as fh:
            doc = load_yaml(fh.read(), path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except BoundaryError as exc:
        where = f" line {exc.span.line}, column {exc.span.column}:" if exc.span else ""
        raise ConfigError(f"{path}:{where} {exc.reason} ({exc.code})") from None
    return parse_blockchain(doc, env)
