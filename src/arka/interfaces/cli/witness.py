"""`arka-cli witness keygen|vkey|serve`: a C2SP transparency-log witness.

    keygen --name NAME --out FILE     a new Ed25519 cosigning key (PKCS#8 PEM, mode 0600);
                                      prints its vkey (type 0x04)
    vkey --key FILE --name NAME       prints the vkey of an existing key
    serve --key FILE --name NAME --log VKEY [--log VKEY ...] --state FILE
                                      the witness's HTTP service (uvicorn)

Each `--log` is a log's Ed25519 vkey (type 0x01); its key name is the log's origin.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

import click

from arka.interfaces.cli.common import fail

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from arka.trust.note import CosignatureSigner

NAME_HELP = ("The witness's key name, a schema-less URL that names it (e.g. "
             "witness.example.org/w1).")


def _signer(name: str, key: Ed25519PrivateKey) -> CosignatureSigner:
    from arka.trust.note import CosignatureSigner, NoteError
    try:
        return CosignatureSigner(name, key)
    except NoteError as exc:
        fail(f"--name: {exc.message}", 2)


def _load_key(path: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    try:
        data = open(path, "rb").read()  # noqa: SIM115 - read whole at once
        mode = os.stat(path).st_mode
    except OSError as exc:
        fail(f"cannot read the witness key {path!r}: {exc.strerror}", 2)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        fail(f"{path} is not an unencrypted PKCS#8 PEM private key: {exc}", 2)
    if not isinstance(key, Ed25519PrivateKey):
        fail(f"{path} holds a {type(key).__name__}, not an Ed25519 key", 2)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        click.echo(f"warning: {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
                   f"chmod 600 {path}", err=True)
    return key


@click.group()
def witness() -> None:
    """A C2SP transparency-log witness: keygen, vkey, serve."""


@witness.command("keygen")
@click.option("--name", required=True, help=NAME_HELP)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Where to write the private key (PKCS#8 PEM, mode 0600); must not exist.")
def keygen(name: str, out: str) -> None:
    """Generate a witness cosigning key; print its vkey (type 0x04)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.generate()
    signer = _signer(name, key)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{out} exists: not overwriting a key", 1)
    except OSError as exc:
        fail(f"cannot create {out!r}: {exc.strerror}", 2)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(out, 0o600)  # whatever the umask
    click.echo(signer.vkey)


@witness.command("vkey")
@click.option("--key", "key_file", required=True, help="The witness's private key (PEM).")
@click.option("--name", required=True, help=NAME_HELP)
def vkey_cmd(key_file: str, name: str) -> None:
    """Print the vkey (type 0x04) of a witness key under a name."""
    click.echo(_signer(name, _load_key(key_file)).vkey)


@witness.command("serve")
@click.option("--key", "key_file", required=True, help="The witness's private key (PEM).")
@click.option("--name", required=True, help=NAME_HELP)
@click.option("--log", "logs", multiple=True, required=True, metavar="VKEY",
              help="A trusted log's Ed25519 vkey (its name is the origin); repeat for more.")
@click.option("--state", "state_file", required=True, type=click.Path(dir_okay=False),
              help="The SQLite state file (created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=click.IntRange(0, 65535))
def serve(key_file: str, name: str, logs: tuple[str, ...], state_file: str, host: str,
          port: int) -> None:
    """Serve the witness: POST /add-checkpoint, GET /<origin hash>/checkpoint, /healthz."""
    import logging

    import uvicorn

    from arka.interfaces.witness_app import create_app
    from arka.trust.note import NoteError, Verifier
    from arka.trust.witness import Witness, WitnessError, log_keys
    from arka.trust.witness_state import SqliteState
    signer = _signer(name, _load_key(key_file))
    verifiers = []
    for text in logs:
        try:
            verifiers.append(Verifier.parse(text))
        except NoteError as exc:
            fail(f"--log {text[:80]!r}: {exc.message}", 2)
    try:
        trusted = log_keys(verifiers)
    except WitnessError as exc:
        fail(f"--log: {exc.message}", 2)
    try:
        state = SqliteState(state_file)
    except WitnessError as exc:
        fail(exc.message, 2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    click.echo(f"witness {signer.vkey}", err=True)
    for origin, keys in trusted.items():
        click.echo(f"  log {origin!r}: " + ", ".join(k.vkey for k in keys), err=True)
    uvicorn.run(create_app(Witness([signer], trusted, state)), host=host, port=port,
                log_config=None, access_log=False)
