"""A Core to look around in (`arka-cli serve --demo`): the example schemas, tables, rules
and rulesets deployed, a day of sample evaluations (which open cases), and one API key per
role, each for a person of its own so that four-eyes approval can be tried."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from arka.app.core import Core
from arka.app.requests import EvaluateRequest
from arka.base.errors import ArkaError
from arka.security.principal import Actor

TENANT = "default"
SANCTIONS_LISTS = Path("screening") / "lists.ftm.json"
# (role, the person the key is for): two compliance officers, so one can approve what
# the other deployed
PEOPLE = (("admin", "demo-admin"), ("compliance_officer", "olivia"),
          ("compliance_officer", "oscar"), ("analyst", "anna"), ("auditor", "aude"),
          ("viewer", "victor"))
# the rule a compliance officer proposes a new version of, pending the other's approval
PROPOSED, PROPOSER = "ctr-threshold-flag.yaml", "olivia"
# customers for the KYC rulesets: EDD inputs and names screened against the example lists
CUSTOMERS: list[dict[str, Any]] = [
    {"id": "c-1001", "risk_score": 82, "pep": False, "country": "US",
     "last_edd_review": "2023-02-01"},
    {"id": "c-1002", "risk_score": 40, "pep": True, "country": "GB",
     "last_edd_review": "2026-01-15"},
    {"id": "c-1003", "risk_score": 10, "pep": False, "country": "IR"},
    {"id": "c-1004", "risk_score": 20, "pep": False, "country": "FR"},
]
SCREENED: list[dict[str, Any]] = [
    {"id": "c-2001", "name": "Муаммар Каддафи", "birth_date": "1942-06-07", "country": "LY"},
    {"id": "c-2002", "name": "Mao Zedong", "country": "CN"},
    {"id": "c-2003", "name": "Maria Schmidt", "birth_date": "1980-02-02", "country": "DE"},
    {"id": "c-2004", "name": "Jose Garcia Lopez", "birth_date": "1990-03-04", "country": "MX"},
]


@dataclass
class Demo:
    deployed: dict[str, list[str]] = field(default_factory=dict)  # kind -> "name version"
    evaluations: int = 0
    keys: list[tuple[str, str, str]] = field(default_factory=list)  # role, person, key


def plugin_settings(examples: Path) -> dict[str, dict[str, Any]]:
    """The sanctions plugin on the example lists."""
    return {"sanctions": {"datasets": [str((examples / SANCTIONS_LISTS).resolve())]}}


def _documents(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if not p.name.endswith(".test.yaml"))


def deploy_examples(core: Core, examples: Path, demo: Demo) -> None:
    """Schemas, tables, rules and rulesets, each kind in an order its dependencies allow."""
    reg = core.registry
    for kind, paths, deploy in (
            ("schemas", _documents(examples / "schemas"), reg.deploy_schema),
            ("tables", _documents(examples / "tables"), reg.deploy_table),
            ("rules", _documents(examples / "rules") + [examples / "screening" / "sanctions-screening.yaml"],
             lambda tenant, text: reg.deploy_rule(tenant, text, "yaml")),
            ("rulesets", _documents(examples / "rulesets"), reg.deploy_ruleset)):
        waiting = paths
        while waiting:  # a document that depends on another of its kind waits for it
            failed: list[tuple[Path, ArkaError]] = []
            for path in waiting:
                try:
                    view, _ = deploy(TENANT, path.read_text(encoding="utf-8"))
                except ArkaError as exc:
                    failed.append((path, exc))
                    continue
                demo.deployed.setdefault(kind, []).append(f"{view['name']} {view['version']}")
            if len(failed) == len(waiting):
                where, problem = failed[0]
                raise ArkaError(f"{where}: {problem}")
            waiting = [p for p, _ in failed]


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sample_requests(now: datetime, count: int = 96) -> list[EvaluateRequest]:
    """About a day of evaluations ending at `now`: cash and wire transactions (some over
    the CTR threshold, some structured below it) and the KYC customers. The same `now`
    gives the same requests."""
    rng = random.Random(20240115)
    out: list[EvaluateRequest] = []
    history: list[dict[str, Any]] = []
    for i in range(count):
        at = now - timedelta(minutes=15 * (count - i))
        amount = rng.choice([rng.randint(200, 4000), rng.randint(4000, 9900),
                             rng.randint(10001, 60000)])
        tx = {"id": f"tx-{i + 1:04d}", "amount": amount, "currency": "USD",
              "type": rng.choice(["cash", "cash", "wire"]), "timestamp": _at(at)}
        out.append(EvaluateRequest(context={"ruleset": "us-aml@^1.0.0", "timestamp": _at(at)},
                                   input={"transaction": tx,
                                          "transaction_history": history[-5:]}))
        history.append(tx)
    for ruleset, customers, every in (("kyc-edd@^1.0.0", CUSTOMERS, 50),
                                      ("kyc-sanctions@^1.0.0", SCREENED, 70)):
        for i, customer in enumerate(customers):
            when = _at(now - timedelta(minutes=every * i + 7))
            out.append(EvaluateRequest(context={"ruleset": ruleset, "timestamp": when},
                                       input={"customer": customer}))
    return out


def seed(core: Core, examples: Path, now: datetime | None = None) -> Demo:
    """Deploy the examples, evaluate the samples and create the keys, in `core`'s
    (empty) default tenant."""
    demo = Demo()
    # the examples come approved: four-eyes approval (on in the demo) applies to what
    # people deploy from here on
    approval, core.registry.require_approval = core.registry.require_approval, False
    try:
        deploy_examples(core, examples, demo)
    finally:
        core.registry.require_approval = approval
    requests = sample_requests(now or datetime.now(UTC).replace(microsecond=0))
    # stored in time order, so that "most recently stored" is also "latest"
    for request in sorted(requests, key=lambda r: str(r.context["timestamp"])):
        core.evaluations.evaluate(TENANT, request)
        demo.evaluations += 1
    ids = {}
    for role, person in PEOPLE:
        view = core.apikeys.create(TENANT, f"demo {role} ({person})", [role], None,
                                   owner=person)
        demo.keys.append((role, person, view["key"]))
        ids[person] = view["id"]
    proposal = _proposal(examples)
    if proposal is not None:  # a change waiting for a second person: a diff to look at
        view, _ = core.registry.deploy_rule(TENANT, proposal, "yaml", Actor(
            f"apikey:{ids[PROPOSER]}", person=PROPOSER))
        demo.deployed["rules"].append(f"{view['name']} {view['version']} ({view['status']})")
    return demo


def _proposal(examples: Path) -> str | None:
    """Version 1.1.0 of the CTR rule with its flag raised to critical severity, or None
    when the examples have no such rule to change."""
    path = examples / "rules" / PROPOSED
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    changed = text.replace("version: 1.0.0", "version: 1.1.0", 1).replace(
        "severity: high", "severity: critical", 1)
    return changed if changed.count("1.1.0") and "critical" in changed else None
