"""One router per resource; `ALL` is what `create_app` includes, in this order."""

from __future__ import annotations

from arka.interfaces.http.routers import (
    anchors,
    apikeys,
    approvals,
    audit,
    cases,
    evaluations,
    exports,
    health,
    keys,
    log,
    me,
    plugins,
    proofs,
    rules,
    rulesets,
    schemas,
    screening,
    tables,
    webhooks,
)

ALL = (rules.router, approvals.router, tables.router, schemas.router, rulesets.router,
       plugins.router, screening.router, evaluations.router, cases.router,
       webhooks.router,
       exports.router, proofs.router, log.router, anchors.router, keys.router,
       apikeys.router, audit.router, me.router, health.router)
