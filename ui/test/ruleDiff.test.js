// The semantic rule diff on the example rules and edited copies of them.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { foldRows, lineRows, normalizeExpression, parseRule, ruleDiff } from "../src/ruleDiff.js";

const example = (name) => readFileSync(
  fileURLToPath(new URL(`../../examples/rules/${name}.yaml`, import.meta.url)), "utf8");
const CTR = example("ctr-threshold-flag");
const EDD = example("enhanced-due-diligence");
const STRUCT = example("structuring-detection");

const edit = (text, from, to) => {
  expect(text.includes(from), `fixture holds ${from}`).toBe(true);
  return text.replace(from, to);
};

describe("ruleDiff", () => {
  it("finds nothing between a rule and itself", () => {
    for (const src of [CTR, EDD, STRUCT]) {
      const d = ruleDiff(src, src);
      expect(d.ok).toBe(true);
      expect(d.identical).toBe(true);
      expect(d.counts).toEqual({ added: 0, removed: 0, changed: 0 });
    }
  });

  it("ignores comments and re-wrapped expressions", () => {
    let next = edit(CTR, "# Currency Transaction Report", "# CTR");
    next = edit(next, "expression: amount_usd > ctr_limit",
                "expression: |\n        amount_usd   >   ctr_limit  # over the limit");
    expect(ruleDiff(CTR, next).identical).toBe(true);
  });

  it("reports metadata changes: version, dates, jurisdiction, tags", () => {
    let next = edit(CTR, "version: 1.0.0", "version: 1.1.0");
    next = edit(next, "effective_date: 2024-01-01", "effective_date: 2024-06-01\n    expiry_date: 2025-01-01");
    next = edit(next, "jurisdiction: US", "jurisdiction: US-NY");
    next = edit(next, "tags: [ctr, bsa]", "tags: [ctr]");
    const d = ruleDiff(CTR, next);
    const byKey = Object.fromEntries(d.metadata.map((m) => [m.key, m]));
    expect(byKey.version).toMatchObject({ change: "changed", from: "1.0.0", to: "1.1.0" });
    expect(byKey.effective_date).toMatchObject({ change: "changed", from: "2024-01-01", to: "2024-06-01" });
    expect(byKey.expiry_date).toMatchObject({ change: "added", to: "2025-01-01" });
    expect(byKey.jurisdiction).toMatchObject({ from: "US", to: "US-NY" });
    expect(byKey.tags).toMatchObject({ change: "changed", from: ["ctr", "bsa"], to: ["ctr"] });
    expect(Object.values(d.sections).flat()).toEqual([]);
  });

  it("reports a changed condition expression and an added condition", () => {
    let next = edit(CTR, "expression: amount_usd > ctr_limit", "expression: amount_usd >= ctr_limit");
    next = edit(next, "  actions:\n", "    - id: large\n      expression: amount_usd > 50000\n  actions:\n");
    const d = ruleDiff(CTR, next);
    expect(d.sections.conditions).toHaveLength(2);
    const [changed, added] = d.sections.conditions;
    expect(changed).toMatchObject({ key: "amount_threshold", change: "changed" });
    expect(changed.fields).toEqual([{ field: "expression", change: "changed",
                                      from: "amount_usd > ctr_limit", to: "amount_usd >= ctr_limit" }]);
    expect(added).toMatchObject({ key: "large", change: "added" });
    expect(d.counts).toEqual({ added: 1, removed: 0, changed: 1 });
  });

  it("reports lets added, removed and changed", () => {
    let next = edit(EDD, `    high_risk_countries: '["IR", "KP", "MM", "SY", "YE", "AF"]'`,
                    `    high_risk_countries: '["IR", "KP", "MM", "SY", "YE"]'\n    cutoff: "75"`);
    next = edit(next, "customer.risk_score >= 75", "customer.risk_score >= cutoff");
    const d = ruleDiff(EDD, next);
    expect(d.sections.let.map((l) => [l.key, l.change])).toEqual([
      ["high_risk_countries", "changed"], ["cutoff", "added"]]);
    expect(d.sections.conditions.map((c) => c.key)).toEqual(["high_risk_score"]);
    const removed = ruleDiff(STRUCT, edit(STRUCT, "    aggregate_total: sum(sub_threshold_cash)\n", ""));
    expect(removed.sections.let).toEqual([expect.objectContaining({ key: "aggregate_total",
                                                                    change: "removed" })]);
  });

  it("matches actions by type and trigger and lists their config changes", () => {
    const next = edit(CTR, "severity: high", "severity: critical");
    const d = ruleDiff(CTR, next);
    expect(d.sections.actions).toHaveLength(1);
    const [a] = d.sections.actions;
    expect(a.change).toBe("changed");
    expect(a.key).toBe("flag on ctr_reportable (action 1)");
    expect(a.fields).toEqual([{ field: "config.severity", change: "changed", from: "high", to: "critical" }]);
  });

  it("sees a changed trigger as a change of the same action", () => {
    const next = edit(EDD, "    - trigger: review_overdue\n      type: flag",
                      "    - trigger: review_overdue AND NOT is_pep\n      type: flag");
    const [a] = ruleDiff(EDD, next).sections.actions;
    expect(a).toMatchObject({ change: "changed" });
    expect(a.fields).toEqual([{ field: "trigger", change: "changed", from: "review_overdue",
                                to: "review_overdue AND NOT is_pep" }]);
  });

  it("reports actions added and removed, not reordered", () => {
    const block = "    - trigger: prohibited\n      type: block\n      config:\n" +
      "        reason: \"Comprehensively sanctioned jurisdiction\"\n        code: BLK-OFAC-01\n" +
      "        override_allowed: false\n";
    const moved = edit(EDD, block, "").replace("  actions:\n", `  actions:\n${block}`);
    expect(ruleDiff(EDD, moved).identical).toBe(true);
    const removed = ruleDiff(EDD, edit(EDD, block, ""));
    expect(removed.sections.actions).toEqual([expect.objectContaining({
      change: "removed", key: "block on prohibited (was action 3)" })]);
    const added = ruleDiff(edit(EDD, block, ""), EDD);
    expect(added.sections.actions.map((x) => x.change)).toEqual(["added"]);
  });

  it("compares numbers exactly, as written", () => {
    const next = edit(STRUCT, "sla_hours: 48", "sla_hours: 48.000000000000000001");
    const [a] = ruleDiff(STRUCT, next).sections.actions;
    expect(a.fields).toEqual([{ field: "config.sla_hours", change: "changed", from: "48",
                                to: "48.000000000000000001" }]);
  });

  it("reports input changes", () => {
    const next = edit(STRUCT, "      type: TransactionHistory", "      type: TransactionHistory@1.0.0");
    const d = ruleDiff(STRUCT, next);
    expect(d.sections.inputs).toEqual([expect.objectContaining({ key: "transaction_history",
      change: "changed", fields: [{ field: "type", change: "changed", from: "TransactionHistory",
                                    to: "TransactionHistory@1.0.0" }] })]);
  });

  it("compares two different rules", () => {
    const d = ruleDiff(CTR, STRUCT);
    expect(d.metadata.find((m) => m.key === "name")).toMatchObject({
      from: "ctr-threshold-flag", to: "structuring-detection" });
    expect(d.sections.inputs.map((i) => [i.key, i.change])).toEqual([["transaction_history", "added"]]);
  });

  it("says which side does not parse, with its line", () => {
    const d = ruleDiff(CTR, "rule:\n  metadata: [\n");
    expect(d.ok).toBe(false);
    expect(d.errors).toHaveLength(1);
    expect(d.errors[0].side).toBe("to");
    expect(d.errors[0].line).toBeGreaterThan(0);
    expect(ruleDiff("table: {}", CTR).errors[0]).toMatchObject({ side: "from" });
  });
});

describe("helpers", () => {
  it("normalizes blanks and comments outside strings only", () => {
    expect(normalizeExpression("a  >\n  b # why")).toBe("a > b");
    expect(normalizeExpression('x == "a  # b"')).toBe('x == "a  # b"');
    expect(normalizeExpression("'it\\'s  '  + y")).toBe("'it\\'s  ' + y");
  });

  it("parses the example rules", () => {
    expect(parseRule(CTR).rule.metadata.name).toBe("ctr-threshold-flag");
  });

  it("numbers the lines of a line diff and folds unchanged runs", () => {
    const rows = lineRows("a\nb\nc\n", "a\nB\nc\nd\n");
    expect(rows).toEqual([
      { kind: "same", text: "a", oldNo: 1, newNo: 1 },
      { kind: "removed", text: "b", oldNo: 2, newNo: null },
      { kind: "added", text: "B", oldNo: null, newNo: 2 },
      { kind: "same", text: "c", oldNo: 3, newNo: 3 },
      { kind: "added", text: "d", oldNo: null, newNo: 4 },
    ]);
    const long = Array.from({ length: 20 }, (_, i) => `l${i}`).join("\n");
    const folded = foldRows(lineRows(long, long.replace("l10", "X")), 2);
    expect(folded.filter((r) => r.kind === "fold").map((r) => r.count)).toEqual([8, 7]);
  });
});
