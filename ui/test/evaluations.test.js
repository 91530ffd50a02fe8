import { describe, expect, it } from "vitest";
import { apiQuery, toLocalInput, toRfc3339 } from "../src/pages/evaluations/filters.js";
import { explain, returnedValues, ruleShape } from "../src/pages/evaluations/model.js";
import { checkJson } from "../src/pages/evaluations/new.js";

const SOURCE = `rule:
  metadata: { name: r, version: 1.0.0 }
  let:
    amount_usd: transaction.amount
  conditions:
    - id: big
      description: Big
      expression: amount_usd > 10000
  actions:
    - trigger: big
      type: flag
      config: { severity: high, category: BIG }
    - trigger: big
      type: annotate
      config: { annotations: { big: true } }
`;

const RECORD = {
  result: { decision: "non_compliant", flags: [{ rule_id: "r", rule_version: "1.0.0", category: "BIG" }],
            annotations: { big: true } },
  rule_results: [{ rule_id: "r", version: "1.0.0", status: "fired", conditions: { big: true } },
                 { rule_id: "s", version: "2.0.0", status: "skipped", reason: "domain KYC is not AML", conditions: {} }],
  trace: [{ rule_id: "r", version: "1.0.0", events: [
    { event: "condition", id: "big", value: true }, { event: "trigger", action: 0, value: true },
    { event: "action", action: 0, type: "flag" }, { event: "trigger", action: 1, value: true },
    { event: "action", action: 1, type: "annotate" }] }],
};

describe("filters", () => {
  it("reads datetime-local values as UTC, `to` inclusive", () => {
    expect(toRfc3339("2024-01-15T14:00")).toBe("2024-01-15T14:00:00Z");
    expect(toRfc3339("2024-01-15T14:00", true)).toBe("2024-01-15T14:00:59.999Z");
    expect(toRfc3339("2024-01-15", true)).toBe("2024-01-15T23:59:59.999Z");
    expect(toRfc3339("")).toBe("");
    expect(toLocalInput("2024-01-15T14:00:59.999Z")).toBe("2024-01-15T14:00");
  });
  it("sends known filters, newest first", () => {
    expect(apiQuery({ flag: "CTR", entity: "", page: "2", x: "y" }, 25))
      .toEqual({ order: "desc", page: 2, per_page: 25, flag: "CTR" });
  });
});

describe("explanation", () => {
  it("joins expression text, values and the items actions produced", () => {
    const [r, s] = explain(RECORD, { "r@1.0.0": ruleShape(SOURCE) },
      [{ rule_id: "r", version: "1.0.0", events: [{ fn: "let:amount_usd", op: "RET", top: 15000 }] }]);
    expect(r.conditions).toEqual([{ id: "big", value: true, held: true, expression: "amount_usd > 10000", description: "Big" }]);
    expect(r.actions.map((a) => [a.type, a.fired, a.items])).toEqual([
      ["flag", true, [RECORD.result.flags[0]]], ["annotate", true, [{ big: true }]]]);
    expect(r.lets).toEqual([{ name: "amount_usd", value: 15000, expression: "transaction.amount" }]);
    expect(s.status).toBe("skipped");
    expect(s.reason).toBe("domain KYC is not AML");
  });
  it("works without the rule's source", () => {
    const [r] = explain(RECORD, {});
    expect(r.conditions[0].expression).toBe(null);
    expect(r.actions.map((a) => [a.index, a.type, a.fired])).toEqual([[0, "flag", true], [1, "annotate", true]]);
  });
  it("reads let and condition values from a full trace", () => {
    expect(returnedValues([{ fn: "cond:a", op: "RET", top: true }, { fn: "let:x", op: "GT", top: 1 }]))
      .toEqual({ lets: {}, conds: { a: true } });
  });
});

describe("checkJson", () => {
  it("points at the error", () => {
    expect(checkJson('{"a": 1}', "Input")).toEqual({ value: { a: 1 } });
    expect(checkJson("[]", "Input").error).toMatch(/must be a JSON object/);
    expect(checkJson('{\n "a": }', "Input").error).toMatch(/^Input is not valid JSON/);
  });
});
