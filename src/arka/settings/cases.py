"""`cases:` settings: which evaluations open a case, how later ones join it, and the
dispositions a case may be closed with."""

from __future__ import annotations

from dataclasses import dataclass, field

OPEN_ON = ("escalation", "block", "flag:critical", "flag:high", "flag:medium", "flag:low")
GROUP_BY = ("entity_queue", "entity", "none")
DISPOSITIONS = ("false_positive", "true_positive", "sar_filed", "no_action")


@dataclass(frozen=True)
class CasePolicy:
    enabled: bool = True
    # what in a result opens a case (any of OPEN_ON); per ruleset name below
    open_on: tuple[str, ...] = ("escalation",)
    rulesets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # input paths of the entity (first present wins), e.g. customer.id
    entity_paths: tuple[str, ...] = ("customer.id", "customer_id", "transaction.customer_id",
                                     "entity.id")
    group_by: str = "entity_queue"  # later evaluations join the open case of the same key
    default_queue: str = "review"  # for cases a flag or block opens (no escalation queue)
    default_priority: str = "medium"
    default_sla_hours: float = 72.0
    dispositions: tuple[str, ...] = DISPOSITIONS
    # closing with these needs a second person's confirmation when approvals are on
    approval_dispositions: tuple[str, ...] = ("true_positive", "sar_filed")

    def triggers(self, ruleset: str | None) -> tuple[str, ...]:
        if ruleset is not None and ruleset in self.rulesets:
            return self.rulesets[ruleset]
        return self.open_on
