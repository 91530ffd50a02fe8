"""A suspicious activity / transaction report (SAR/STR) **draft** from a closed case: as
JSON (the structure in docs/cases.md), or as goAML XML (the UNODC goAML `report`
element: reporting entity, report code STR, reason, transactions and the parties the
evaluation inputs name). A draft for the filer to complete and check against their FIU's
goAML schema before submitting: ARKA knows the case, not the institution's FIU ids."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation
from typing import Any

from arka.base.errors import Conflict

REPORTABLE = ("true_positive", "sar_filed")
FORMATS = ("json", "goaml")


def _reason(events: list[dict[str, Any]]) -> str | None:
    """The reason of the closing that stands (the last close, close request or approve)."""
    for e in reversed(events):
        if e["action"] in ("close", "close_requested") and e["details"].get("reason"):
            return str(e["details"]["reason"])
    return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _amount(value: Any) -> str | None:
    try:
        return str(Decimal(str(value))) if value is not None else None
    except (InvalidOperation, ValueError):
        return None


def _party(data: Any) -> dict[str, Any] | None:
    """The customer an evaluation input names, in neutral terms."""
    if not isinstance(data, dict):
        return None
    customer = data.get("customer") or data.get("entity")
    if not isinstance(customer, dict):
        return None
    return {k: customer[k] for k in ("id", "name", "first_name", "last_name", "birth_date",
                                     "country", "nationality", "type") if k in customer}


def _transaction(record: dict[str, Any]) -> dict[str, Any] | None:
    tx = (record.get("input") or {}).get("transaction")
    if not isinstance(tx, dict):
        return None
    return {"evaluation_id": record["evaluation_id"], "id": _text(tx.get("id")),
            "date": _text(tx.get("timestamp") or tx.get("date")) or record.get("timestamp"),
            "amount": _amount(tx.get("amount")), "currency": _text(tx.get("currency")),
            "type": _text(tx.get("type")), "counterparty": _text(tx.get("counterparty")),
            "description": _text(tx.get("description"))}


def draft(tenant: str, case: dict[str, Any], events: list[dict[str, Any]],
          records: list[dict[str, Any]], generated_at: str) -> dict[str, Any]:
    """The JSON draft of a closed, reportable case (Conflict otherwise)."""
    if case["status"] != "closed" or case["disposition"] not in REPORTABLE:
        raise Conflict(f"case {case['id']} is {case['status']} with disposition "
                       f"{case['disposition']}; a report draft needs a closed case with "
                       f"disposition {' or '.join(REPORTABLE)}")
    comments = [{"at": e["at"], "by": e["actor"], "text": e["details"]["text"]}
                for e in events if e["action"] == "comment" and "text" in e["details"]]
    grounds = [{"evaluation_id": r["evaluation_id"], "timestamp": r.get("timestamp"),
                "decision": (r.get("result") or {}).get("decision"),
                "flags": (r.get("result") or {}).get("flags", []),
                "escalations": (r.get("result") or {}).get("escalations", []),
                "blocks": (r.get("result") or {}).get("blocks", []),
                "output_hash": (r.get("trust_proof") or {}).get("output_hash")}
               for r in records]
    parties = [p for p in (_party(r.get("input")) for r in records) if p]
    unique = list({repr(sorted(p.items())): p for p in parties}.values())
    reason = _reason(events)
    narrative = " ".join(x for x in (
        f"Case {case['id']} ({case['queue']}) was closed as {case['disposition']}"
        f"{' on ' + case['closed_at'] if case['closed_at'] else ''}.",
        f"Reason: {reason}" if reason else "",
        f"Rules: {', '.join(case['rule_versions'])}." if case["rule_versions"] else "",
        f"{len(records)} evaluation(s) raised it.") if x)
    return {
        "report_type": "STR", "draft": True, "generated_at": generated_at,
        "reporting_entity": {"tenant": tenant, "rentity_id": None,
                             "note": "fill in the FIU's id of the reporting entity"},
        "case": {k: case[k] for k in ("id", "queue", "priority", "disposition", "entity_id",
                                      "opened_at", "closed_at", "rule_versions",
                                      "head_hash", "version")},
        "reason": reason, "narrative": narrative, "subjects": unique,
        "transactions": [t for t in (_transaction(r) for r in records) if t],
        "grounds": grounds, "analyst_notes": comments}


def goaml_xml(report: dict[str, Any]) -> bytes:
    """The draft as a goAML `report` document (UTF-8 XML)."""
    root = ET.Element("report")

    def add(parent: ET.Element, tag: str, value: Any) -> ET.Element | None:
        if value is None or value == "":
            return None
        el = ET.SubElement(parent, tag)
        el.text = str(value)
        return el
    add(root, "rentity_id", report["reporting_entity"]["rentity_id"] or "0")
    add(root, "submission_code", "E")
    add(root, "report_code", "STR")
    add(root, "entity_reference", report["case"]["id"])
    add(root, "submission_date", report["generated_at"][:19])
    currencies = {t["currency"] for t in report["transactions"] if t.get("currency")}
    add(root, "currency_code_local", currencies.pop() if len(currencies) == 1 else None)
    add(root, "reason", report["narrative"])
    add(root, "action", report["reason"] or "reported after case review")
    subject = report["subjects"][0] if report["subjects"] else {}
    for t in report["transactions"]:
        tx = ET.SubElement(root, "transaction")
        add(tx, "transactionnumber", t["id"] or t["evaluation_id"])
        add(tx, "internal_ref_number", t["evaluation_id"])
        add(tx, "transaction_description", t.get("description") or t.get("type"))
        add(tx, "date_transaction", (t["date"] or "")[:19] or None)
        add(tx, "transmode_code", t.get("type"))
        add(tx, "amount_local", t.get("amount"))
        side = ET.SubElement(tx, "t_from_my_client")
        add(side, "from_funds_code", t.get("type"))
        person = ET.SubElement(side, "from_person")
        name = str(subject.get("name") or "")
        first = subject.get("first_name") or (name.split(" ")[0] if name else None)
        last = subject.get("last_name") or (" ".join(name.split(" ")[1:]) or None
                                            if name else None)
        add(person, "first_name", first)
        add(person, "last_name", last)
        add(person, "birthdate", subject.get("birth_date"))
        add(person, "nationality1", subject.get("nationality") or subject.get("country"))
        add(person, "id_number", subject.get("id"))
        add(side, "from_country", subject.get("country"))
        if t.get("counterparty"):
            to = ET.SubElement(tx, "t_to")
            add(to, "to_funds_code", t.get("type"))
            entity = ET.SubElement(to, "to_entity")
            add(entity, "name", t["counterparty"])
    indicators = ET.SubElement(root, "report_indicators")
    for rule in report["case"]["rule_versions"]:
        add(indicators, "indicator", rule)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
