"""ARKA Core: the application services, built once from the settings. HTTP-free; the
interfaces (`arka.interfaces.http`, `arka.interfaces.cli`) parse, authorize and call one
service per area:

    registry      rules, reference tables, named schemas, rulesets; version selection
    approvals     four-eyes review of new versions
    evaluations   evaluate (+ idempotency), batch, replay, verify, stored records
    transparency  signed tree heads and checkpoints, proofs, tiles, proof bundles
    witnessing    checkpoints taken to the witnesses for cosigning (worker)
    anchors       anchoring of tree heads on chains (worker: `anchoring`)
    exports       evaluation exports to object storage
    apikeys       API keys
    audit         the hash-chained audit log
    integrity     evaluations, log and tree heads agree (db check, readiness sample)
    plugins       the plugins rules may call, on the plugin host (`make_plugin_host`)
    screening     sanctions screening outside rules, the allowlist rules' screenings apply
    cases         case management of what evaluations raise (opened by the dispatcher)
    webhooks      webhook subscriptions, the delivery log, redelivery
    delivery      the outbox dispatcher and the sender (worker: `delivery`)
"""

from __future__ import annotations

import logging

from arka.app.anchoring import Anchors, AnchorService
from arka.app.apikeys import ApiKeyService
from arka.app.approvals import Approvals
from arka.app.audit import AuditService
from arka.app.cases import Cases
from arka.app.delivery import Delivery
from arka.app.evaluations import Evaluations
from arka.app.events import EventFactory
from arka.app.exports import Exports
from arka.app.idempotency import Idempotency
from arka.app.integrity import Integrity
from arka.app.plugins import Plugins
from arka.app.registry import Registry
from arka.app.screening import Screening
from arka.app.transparency import Transparency
from arka.app.vault import Vault
from arka.app.webhooks import Webhooks
from arka.app.witnessing import Witnessing
from arka.engine.executor import Executor, InProcessExecutor
from arka.observability import metrics as M
from arka.plugins import Host, LocalHost, discover
from arka.security.auth import Authenticator
from arka.security.sealing import RecordSealer
from arka.settings import Settings, record_cipher
from arka.storage import Store
from arka.storage.objects import open_objects
from arka.trust.proofs import KeyRing

log = logging.getLogger("arka.startup")


def make_plugin_host(settings: Settings) -> Host:
    """The plugin host at `plugins.host`, or the plugins installed here (trusted ones in
    process, the others in worker processes), with each plugin's settings."""
    if settings.plugins_host:
        from arka.rpc.plugins import RemoteHost
        return RemoteHost(settings.plugins_host, settings.plugins_timeout)
    return LocalHost(discover(), settings.plugin_settings, workers=settings.plugins_workers,
                     isolate_all=settings.plugins_isolate_all)


def make_executor(settings: Settings, plugins: Host | None = None) -> Executor:
    """In process, or the RTVM service when `rtvm.host` is configured (its plugin calls
    go to the plugin host the RTVM service is configured with)."""
    if settings.rtvm_host:
        from arka.rpc.rtvm import RemoteExecutor
        return RemoteExecutor(settings.rtvm_host, settings.rtvm_port, settings.rtvm_timeout,
                              settings.rtvm_max_concurrent)
    return InProcessExecutor(plugins=plugins)


class Core:
    def __init__(self, settings: Settings, store: Store | None = None):
        settings.check()
        self.settings = settings
        cipher = record_cipher(settings)
        self.store = store or Store(settings.database_url, RecordSealer(cipher),
                                    pool_size=settings.db_pool_size,
                                    max_overflow=settings.db_max_overflow)
        if self.store.sealer.cipher is None:
            self.store.sealer.cipher = cipher
        self.keys = KeyRing.open(settings.key_dir, settings.signing_key_pem)
        self.auth = Authenticator(settings.auth, self.store.keys)
        self.vault = Vault(open_objects(settings.objects) if settings.objects else None,
                           self.store.sealer.cipher)
        self.plugin_host = make_plugin_host(settings)
        self.plugins = Plugins(self.plugin_host)
        self.executor = make_executor(settings, self.plugin_host)
        self.audit = AuditService(self.store.audit)
        self.apikeys = ApiKeyService(self.store.keys, self.auth)
        self.registry = Registry(self.store.registry, settings.require_approval,
                                 settings.strict_rules, plugins=self.plugins.catalog)
        self.approvals = Approvals(self.store.registry, self.registry, self.apikeys)
        t = settings.transparency
        self.transparency = Transparency(
            self.store.log, self.keys, t.origin, records=self.store.evaluations.by_ids,
            witnesses=tuple(w.verifier for w in t.witnesses), quorum=t.required)
        self.witnessing = Witnessing(self.transparency, self.store.log, t) \
            if t.witnesses else None
        self.integrity = Integrity(self.store.evaluations, self.store.log,
                                   self.keys.public_keys, sample=settings.integrity_sample,
                                   interval=settings.integrity_interval)
        self.events = EventFactory(settings.webhooks.source)
        self.anchoring = AnchorService(self.store, self.transparency.sth,
                                       list(settings.chains), settings.anchor_policy,
                                       events=self.events) if settings.chains else None
        self.anchors = Anchors(self.store, list(settings.chains), self.anchoring,
                              self.transparency.checkpoint_text)
        self.idempotency = Idempotency(settings.redis_url,
                                       max_connections=settings.redis_max_connections)
        self.screening = Screening(self.store.allowlist, self.plugins, self.apikeys,
                                   settings.require_approval)
        self.evaluations = Evaluations(self.store.evaluations, self.registry, self.executor,
                                       self.keys, self.vault, self.idempotency, self.anchors,
                                       settings.max_batch, transparency=self.transparency,
                                       plugin_data=self.screening.plugin_data,
                                       events=self.events.of_evaluation)
        self.cases = Cases(self.store.cases, self.store.evaluations, settings.cases,
                           self.events, self.keys, self.transparency, self.vault,
                           settings.require_approval)
        self.webhooks = Webhooks(self.store.webhooks, self.store.outbox, settings.webhooks,
                                 self.events)
        self.delivery = Delivery(self.store, settings.webhooks, settings.smtp, self.cases,
                                 self.events, cases_enabled=settings.cases.enabled)
        self.exports = Exports(self.store.evaluations, self.vault, self.audit)
        M.watch_connections(self.store.engine, self.store.connections_available)

    def close(self) -> None:
        """Stop what the services hold outside this process (plugin worker processes,
        delivery connections)."""
        self.delivery.close()
        self.plugin_host.close()
        if self.witnessing is not None:
            self.witnessing.close()

    @property
    def rules_loaded(self) -> bool:
        return self.registry.loaded

    def warm(self) -> int:
        """Load and validate every stored rule's bytecode, and start the configured
        trusted plugins (the sanctions lists load here); the startup probe waits for it."""
        count = self.registry.warm()
        if isinstance(self.plugin_host, LocalHost):
            self.plugin_host.warm()
        return count

    def wait_for_database(self, seconds: float | None = None) -> str | None:
        """Start-up: the first contact with the database, retried (with a log line each
        time) until it answers or `seconds` (database.startup_timeout) have passed.
        None when it answered, else the last reason it did not."""
        limit = self.settings.db_startup_timeout if seconds is None else seconds

        def retrying(reason: str, attempt: int, left: float) -> None:
            log.warning("waiting for the database (attempt %d, giving up in %.0f s): %s",
                        attempt, left, reason)
        reason = self.store.wait(limit, retrying)
        if reason is None:
            log.info("the database answers")
        return reason

    def record_config(self) -> None:
        self.audit.record_config(self.settings.config_digest, self.settings.environment)
