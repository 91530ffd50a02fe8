import { describe, expect, it } from "vitest";
import { actionBody, availableActions, bytes, caseQuery, eventSummary, notesOf, slaState, span }
  from "../src/pages/cases/model.js";

const perms = (...p) => (x) => p.includes(x);

describe("case actions", () => {
  it("follows the state machine and the permissions", () => {
    const analyst = perms("cases:read", "cases:work");
    const officer = perms("cases:read", "cases:work", "cases:close");
    expect(availableActions({ status: "open", assignee: null }, analyst))
      .toEqual(["assign", "claim", "comment", "escalate"]);
    expect(availableActions({ status: "in_review", assignee: "a" }, officer))
      .toEqual(["assign", "claim", "release", "comment", "escalate", "close"]);
    expect(availableActions({ status: "pending_approval" }, officer))
      .toEqual(["comment", "approve", "reject"]);
    expect(availableActions({ status: "closed" }, analyst)).toEqual(["comment"]);
    expect(availableActions({ status: "closed" }, officer)).toEqual(["comment", "reopen"]);
    expect(availableActions({ status: "open" }, perms("cases:read"))).toEqual([]);
  });
  it("builds bodies with the version read, without empty fields", () => {
    expect(actionBody("escalate", { reason: " why ", queue: "", priority: "" }, 3))
      .toEqual({ action: "escalate", reason: "why", expected_version: 3 });
    expect(actionBody("claim", {}, undefined)).toEqual({ action: "claim" });
  });
});

describe("SLA", () => {
  const now = Date.parse("2026-12-04T12:00:00Z");
  it("words due, breached and closed cases", () => {
    expect(slaState({ status: "open", due_at: "2026-12-06T15:30:00Z", sla_breached: false }, now).text)
      .toBe("Due in 2 d 3 h");
    const b = slaState({ status: "open", due_at: "2026-12-04T11:15:00Z", sla_breached: true }, now);
    expect(b.state).toBe("breached");
    expect(b.text).toBe("SLA breached: overdue by 45 min");
    expect(slaState({ status: "closed", due_at: "2026-12-01T00:00:00Z" }, now).state).toBe("closed");
    expect(slaState({ status: "open", due_at: null }, now).state).toBe("none");
  });
  it("formats spans", () => {
    expect(span(30000)).toBe("< 1 min");
    expect(span(-3 * 3600000)).toBe("3 h");
    expect(span(86400000)).toBe("1 d");
  });
});

describe("list query and history", () => {
  it("keeps known filters only", () => {
    expect(caseQuery({ queue: "q", status: "", page: "2", x: "y" }, 25))
      .toEqual({ page: 2, per_page: 25, queue: "q" });
  });
  it("summarises events and collects notes", () => {
    const evs = [
      { id: "1", action: "opened", actor: "system", at: "t", details: { queue: "kyc", priority: "high", triggers: ["escalation"] } },
      { id: "2", action: "comment", actor: "alice", at: "t", details: { text: "statements requested" } },
      { id: "3", action: "close_requested", actor: "bob", at: "t", details: { disposition: "sar_filed", reason: "structuring" } },
      { id: "4", action: "claim", actor: "alice", at: "t", details: { assignee: "alice" } },
    ];
    expect(eventSummary(evs[0])).toEqual([["Queue", "kyc"], ["Priority", "high"], ["Triggers", "escalation"]]);
    expect(eventSummary(evs[2])).toEqual([["Disposition", "sar_filed"], ["Reason", "structuring"]]);
    expect(notesOf(evs).map((n) => n.text)).toEqual(["statements requested", "structuring"]);
    expect(bytes(2048)).toBe("2.0 KiB");
  });
});
