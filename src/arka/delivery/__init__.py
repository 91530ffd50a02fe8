"""Delivering events to other systems: CloudEvents 1.0 envelopes (`events`), signed as
Standard Webhooks (`signing`), sent over HTTP to URLs that pass the SSRF guard (`targets`,
`http`), or as e-mail over SMTP (`email`) with bodies rendered by a sandboxed template
engine (`templates`); retry timing and circuit breaking (`retry`).

Pure mechanics: what to deliver, to whom and when is decided by the application
(`arka.app.delivery`), which keeps the state in the outbox and delivery tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeliveryPolicy:
    """`webhooks:` settings: how deliveries are made and retried."""
    allow_private: tuple[str, ...] = ()  # hosts or networks (CIDR) private targets may use
    timeout: float = 10.0  # seconds per attempt (connect + response)
    max_attempts: int = 8  # then the delivery is dead (redeliverable by hand)
    backoff_base: float = 5.0  # seconds before the 2nd attempt; doubles, with full jitter
    backoff_max: float = 3600.0
    circuit_failures: int = 5  # consecutive failures that open an endpoint's circuit
    circuit_seconds: float = 60.0  # how long an open circuit holds deliveries back
    rotation_grace: float = 86400.0  # seconds an old secret still signs after a rotation
    source: str = "/arka"  # the CloudEvents `source` prefix (the tenant is appended)
    poll_interval: float = 1.0  # seconds between delivery rounds
    concurrency: int = 8  # deliveries sent at once per process
    lease: float = 60.0  # seconds a worker holds a claimed delivery or the dispatch lease


@dataclass(frozen=True)
class SmtpSettings:
    """`notifications.smtp:`; the password comes from ARKA_SMTP_PASSWORD."""
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    from_address: str = "arka@localhost"
    timeout: float = 10.0
    ca_file: str | None = None  # a CA bundle to verify the server with (else the system's)
