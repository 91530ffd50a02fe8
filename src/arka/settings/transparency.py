"""The transparency log's identity and witnesses (`transparency:` in the configuration).

    transparency:
      origin: arka.example.com/log      # the checkpoint origin and the log key's name
      witnesses:
        - url: https://witness-1.example.com/   # its add-checkpoint lives under this URL
          key: witness-1.example.com/w+1c2d3e4f+BH...   # its cosigner key (vkey, type 04)
      quorum: 1                  # cosignatures a served checkpoint needs (default: all)
      cosign_interval: 5s        # how often a new checkpoint is taken to the witnesses
      witness_timeout: 10s
"""

from __future__ import annotations

from dataclasses import dataclass

from arka.trust.note import COSIGNATURE_V1, NoteError, Verifier, check_key_name

DEFAULT_ORIGIN = "arka.local/log"


@dataclass(frozen=True)
class WitnessConfig:
    url: str  # the submission prefix: POST <url>/add-checkpoint
    key: str  # the cosigner verifier key

    @property
    def verifier(self) -> Verifier:
        return Verifier.parse(self.key)

    @property
    def name(self) -> str:
        return self.verifier.name


@dataclass(frozen=True)
class TransparencySettings:
    origin: str = DEFAULT_ORIGIN
    witnesses: tuple[WitnessConfig, ...] = ()
    quorum: int | None = None  # None: every witness
    cosign_interval: float = 5.0
    witness_timeout: float = 10.0

    @property
    def required(self) -> int:
        """Cosignatures a checkpoint needs before it is served as the log's checkpoint."""
        return len(self.witnesses) if self.quorum is None else self.quorum

    def validate(self) -> TransparencySettings:
        """Self, or an error naming the setting that is wrong."""
        try:
            check_key_name(self.origin)
        except NoteError:
            raise NoteError(f"transparency.origin {self.origin!r} must be non-empty without "
                            "spaces or '+' (e.g. arka.example.com/log)") from None
        names = set()
        for n, w in enumerate(self.witnesses):
            where = f"transparency.witnesses[{n}]"
            if not w.url.startswith(("https://", "http://")):
                raise NoteError(f"{where}.url must be an http(s) URL")
            try:
                v = w.verifier
            except NoteError as exc:
                raise NoteError(f"{where}.key: {exc.message}") from None
            if v.sig_type != COSIGNATURE_V1:
                raise NoteError(f"{where}.key must be a cosignature/v1 key (type 04), not a "
                                "log key")
            if v.name in names:
                raise NoteError(f"{where}: witness {v.name} is listed twice")
            names.add(v.name)
        if self.quorum is not None and not 0 <= self.quorum <= len(self.witnesses):
            raise NoteError(f"transparency.quorum must be between 0 and the number of "
                            f"witnesses ({len(self.witnesses)})")
        return self
