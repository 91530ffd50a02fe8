// The table diff on the example tables and edited copies of them.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { canon, normalizeNumber, Num, parseTable, rowKey, tableDiff, valueText } from "../src/tableDiff.js";

const example = (name) => readFileSync(
  fileURLToPath(new URL(`../../examples/tables/${name}.yaml`, import.meta.url)), "utf8");
const FX = example("fx-rates");
const LIST = example("high-risk-countries");
const THRESHOLDS = example("thresholds");

const edit = (text, from, to) => {
  expect(text.includes(from), `fixture holds ${from}`).toBe(true);
  return text.replace(from, to);
};

describe("normalizeNumber", () => {
  it("gives one text for one value", () => {
    expect(normalizeNumber("1.0950")).toBe("1.095");
    expect(normalizeNumber("1.095")).toBe("1.095");
    expect(normalizeNumber("1095e-3")).toBe("1.095");
    expect(normalizeNumber("10000")).toBe("10000");
    expect(normalizeNumber("1e4")).toBe("10000");
    expect(normalizeNumber("0010.500")).toBe("10.5");
    expect(normalizeNumber("-0.50")).toBe("-0.5");
    expect(normalizeNumber(".5")).toBe("0.5");
    expect(normalizeNumber("0.000")).toBe("0");
    expect(normalizeNumber("0x1F")).toBe("0x1f");
  });

  it("keeps more digits than a double holds", () => {
    expect(normalizeNumber("1.000000000000000000001")).toBe("1.000000000000000000001");
  });
});

describe("parseTable", () => {
  it("reads the example tables, numbers exact", () => {
    const { table } = parseTable(FX);
    expect(table.name).toBe("fx-rates");
    expect(table.kind).toBe("fx_rate");
    expect(table.rows).toHaveLength(4);
    expect(table.rows[0].rate).toBeInstanceOf(Num);
    expect(valueText(table.rows[0].rate)).toBe("1.0950");
    expect(table.rows[0].effective_date).toBe("2024-01-01");
  });

  it("says where YAML is broken", () => {
    const r = parseTable("table:\n  name: x\n  rows: [\n");
    expect(r.error.message).toBeTruthy();
    expect(r.error.line).toBeGreaterThan(0);
  });

  it("refuses a document without a table mapping", () => {
    expect(parseTable("rule: {}\n").error.message).toMatch(/top-level `table`/);
    expect(parseTable("table: [1, 2]\n").error.message).toMatch(/top-level `table`/);
  });
});

describe("rowKey", () => {
  it("names a row by its kind's identifying columns", () => {
    expect(rowKey("threshold", { jurisdiction: "US", type: "ctr", value: new Num("10000"),
                                 effective_date: "2024-01-01" }).text)
      .toBe("US · ctr · from 2024-01-01");
    expect(rowKey("fx_rate", { from: "EUR", to: "USD", rate: new Num("1.1") }).text)
      .toBe("EUR · USD · no effective date");
    expect(rowKey("list", { value: "KP", effective_date: "2022-01-01" }).text).toBe("KP");
  });

  it("fills in a threshold's defaults: ALL and default", () => {
    const a = rowKey("threshold", { value: new Num("1") });
    const b = rowKey("threshold", { jurisdiction: "ALL", type: "default", value: new Num("2") });
    expect(a.id).toBe(b.id);
    expect(a.text).toBe("ALL · default · no effective date");
  });

  it("tells a number from a string", () => {
    expect(canon(new Num("10"))).not.toBe(canon("10"));
    expect(canon(new Num("1.50"))).toBe(canon(new Num("1.5")));
  });
});

describe("tableDiff", () => {
  it("finds nothing between a table and itself", () => {
    for (const src of [FX, LIST, THRESHOLDS]) {
      const d = tableDiff(src, src);
      expect(d.ok).toBe(true);
      expect(d.identical).toBe(true);
      expect(d.counts.added + d.counts.removed + d.counts.changed).toBe(0);
      expect(d.counts.unchanged).toBe(parseTable(src).table.rows.length);
    }
  });

  it("ignores comments, layout and how a number is written", () => {
    let next = edit(FX, "rate: 1.0950,", "rate: 1.095,");
    next = edit(next, "  rows:\n", "  # the ECB's\n  rows:\n");
    next = edit(next, "{ from: GBP, to: USD, rate: 1.2700, effective_date: 2024-01-01 }",
                "\n      from: GBP\n      to: USD\n      rate: 1.27\n      effective_date: 2024-01-01");
    const d = tableDiff(FX, next);
    expect(d.ok).toBe(true);
    expect(d.identical).toBe(true);
  });

  it("reports a changed fx rate by from, to and effective date", () => {
    const next = edit(edit(FX, "version: 1.0.0", "version: 1.1.0"),
                      "{ from: EUR, to: USD, rate: 1.0850, effective_date: 2024-02-01 }",
                      "{ from: EUR, to: USD, rate: 1.0900, effective_date: 2024-02-01 }");
    const d = tableDiff(FX, next);
    expect(d.counts).toEqual({ added: 0, removed: 0, changed: 1, unchanged: 3 });
    expect(d.keyColumns).toEqual(["from", "to", "effective_date"]);
    const [c] = d.rows.changed;
    expect(c.key).toBe("EUR · USD · from 2024-02-01");
    expect(c.fields).toHaveLength(1);
    expect(c.fields[0].field).toBe("rate");
    expect(c.fields[0].change).toBe("changed");
    expect(valueText(c.fields[0].from)).toBe("1.0850");
    expect(valueText(c.fields[0].to)).toBe("1.0900");
    expect(d.metadata).toEqual([{ key: "version", change: "changed", from: "1.0.0", to: "1.1.0" }]);
  });

  it("reports a new effective date as a row added, not a change", () => {
    const next = edit(FX, "    - { from: GBP", "    - { from: EUR, to: USD, rate: 1.08, effective_date: 2024-03-01 }\n    - { from: GBP");
    const d = tableDiff(FX, next);
    expect(d.counts).toMatchObject({ added: 1, removed: 0, changed: 0 });
    expect(d.rows.added[0].key).toBe("EUR · USD · from 2024-03-01");
  });

  it("reports threshold rows added, removed and changed", () => {
    let next = edit(THRESHOLDS, "{ jurisdiction: US, type: ctr, value: 10000, effective_date: 2024-01-01 }",
                    "{ jurisdiction: US, type: ctr, value: 12000, effective_date: 2024-01-01, expiry_date: 2027-01-01 }");
    next = edit(next, "    - { jurisdiction: ALL, type: occasional_cdd, value: 15000 }\n",
                "    - { jurisdiction: GB, type: occasional_cdd, value: 15000 }\n");
    const d = tableDiff(THRESHOLDS, next);
    expect(d.counts).toEqual({ added: 1, removed: 1, changed: 1, unchanged: 0 });
    expect(d.rows.added[0].key).toBe("GB · occasional_cdd · no effective date");
    expect(d.rows.removed[0].key).toBe("ALL · occasional_cdd · no effective date");
    const fields = d.rows.changed[0].fields.map((f) => [f.field, f.change]);
    expect(fields).toEqual([["value", "changed"], ["expiry_date", "added"]]);
  });

  it("treats a left-out default as that default", () => {
    const next = edit(THRESHOLDS, "{ jurisdiction: ALL, type: occasional_cdd, value: 15000 }",
                      "{ type: occasional_cdd, value: 15000 }");
    expect(tableDiff(THRESHOLDS, next).identical).toBe(true);
  });

  it("keys list rows by their value, and sees an expiry change", () => {
    let next = edit(LIST, "    - { value: IR }\n", "");
    next = edit(next, "{ value: SY, expiry_date: 2024-01-01 }", "{ value: SY, expiry_date: 2025-01-01 }");
    next = edit(next, "    - { value: KP }\n", "    - { value: KP }\n    - { value: YE }\n");
    const d = tableDiff(LIST, next);
    expect(d.rows.removed.map((r) => r.key)).toEqual(["IR"]);
    expect(d.rows.added.map((r) => r.key)).toEqual(["YE"]);
    expect(d.rows.changed.map((r) => [r.key, r.fields[0].field])).toEqual([["SY", "expiry_date"]]);
  });

  it("pairs up rows that share a key in order", () => {
    const src = "table:\n  name: t\n  version: 1.0.0\n  kind: list\n  rows:\n    - { value: A }\n    - { value: A, expiry_date: 2024-01-01 }\n";
    const next = src.replace("expiry_date: 2024-01-01", "expiry_date: 2025-01-01");
    const d = tableDiff(src, next);
    expect(d.counts).toEqual({ added: 0, removed: 0, changed: 1, unchanged: 1 });
    expect(d.rows.changed[0].key).toBe("A (occurrence 2)");
  });

  it("reports a description change", () => {
    const next = edit(LIST, "description: Example dated list", "description: A dated list");
    const d = tableDiff(LIST, next);
    expect(d.metadata.map((m) => m.key)).toEqual(["description"]);
    expect(d.identical).toBe(false);
    expect(d.counts.changed).toBe(0);
  });

  it("names the side that does not parse", () => {
    const d = tableDiff(FX, "table: [\n");
    expect(d.ok).toBe(false);
    expect(d.errors.map((e) => e.side)).toEqual(["to"]);
  });
});
