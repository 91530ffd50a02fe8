import { describe, expect, it } from "vitest";
import {
  COLOURS, DECISIONS, PANELS, behind, bucketLabel, bucketName, chainRows, contrast,
  decisionColour, decisionsOf, isEmptyWindow, latency, latestAnchor, loadLog, logChart,
  logSummary, percent, queueChart, queueRows, serviceFigures, queueSummary, seriesChart, seriesRows,
  seriesSummary, topChart, topSummary, windowQuery,
} from "../src/pages/overview/model.js";

const STATS = {
  from: "2026-12-05T21:00:00Z", to: "2026-12-06T00:00:00Z", bucket: "hour", total: 9,
  decisions: { compliant: 5, non_compliant: 3, needs_review: 1 },
  series: [
    { start: "2026-12-05T21:00:00Z", counts: { compliant: 4, non_compliant: 1 } },
    { start: "2026-12-05T22:00:00Z", counts: {} },
    { start: "2026-12-05T23:00:00Z", counts: { compliant: 1, non_compliant: 2, needs_review: 1 } },
  ],
  top_rules: [{ rule: "big-cash", evaluations: 6 }, { rule: "pep", evaluations: 2 }],
  top_flags: [{ category: "LARGE_CASH", evaluations: 3 }],
  service: { scope: "service-wide", evaluations: 1000, errors: 3, error_rate: 0.003,
             latency_seconds: { p50: 0.004, p95: 0.02, p99: 0.05 } },
};

describe("decision colours", () => {
  it("give each decision its own colour and unknown ones a neutral one", () => {
    const colours = DECISIONS.map(decisionColour);
    expect(new Set(colours).size).toBe(DECISIONS.length);
    expect(decisionColour("something_new")).toBe(COLOURS.unknown);
    expect(colours).not.toContain(COLOURS.unknown);
  });
  it("stand out 3:1 from the light and the dark panel", () => {
    for (const c of Object.values(COLOURS)) {
      expect(contrast(c, PANELS.light)).toBeGreaterThanOrEqual(3);
      expect(contrast(c, PANELS.dark)).toBeGreaterThanOrEqual(3);
    }
  });
});

describe("formatting", () => {
  it("writes rates as percentages", () => {
    expect(percent(0.003)).toBe("0.3%");
    expect(percent(0)).toBe("0%");
    expect(percent(0.123456)).toBe("12.35%");
    expect(percent(1)).toBe("100%");
    expect(percent(0.00001)).toBe("<0.01%");
    expect(percent(null)).toBe("—");
  });
  it("writes latencies in ms or s", () => {
    expect(latency(0.004)).toBe("4 ms");
    expect(latency(0.0042)).toBe("4.2 ms");
    expect(latency(0.02)).toBe("20 ms");
    expect(latency(0.2504)).toBe("250 ms");
    expect(latency(1.254)).toBe("1.25 s");
    expect(latency(0.00001)).toBe("<0.1 ms");
    expect(latency(0)).toBe("0 ms");
    expect(latency(null)).toBe("—");
  });
  it("lists the service's figures as the API gives them", () => {
    const shown = (s) => serviceFigures(s).map((f) => `${f.label}: ${f.value}`);
    expect(shown(STATS.service)).toEqual(["Evaluations: 1,000", "Errors: 3", "Error rate: 0.3%",
      "Latency p50: 4 ms", "Latency p95: 20 ms", "Latency p99: 50 ms"]);
    expect(shown({ scope: "s", evaluations: 74, stored: 74, rejected_inputs: 1, rule_errors: 2,
                   error_rate: null, latency_seconds: { p50: null, p95: null, p99: null } }))
      .toEqual(["Evaluations: 74", "Rejected inputs: 1", "Rule errors: 2", "Error rate: —",
                "Latency p50: —", "Latency p95: —", "Latency p99: —"]);
    expect(serviceFigures(undefined)).toEqual([]);
  });
  it("labels buckets in UTC", () => {
    expect(bucketLabel("2026-12-05T21:00:00Z", "hour")).toBe("12-05 21:00");
    expect(bucketLabel("2026-12-05T00:00:00Z", "day")).toBe("2026-12-05");
    expect(bucketName("2026-12-05T21:00:00Z", "hour")).toBe("2026-12-05 21:00 UTC");
  });
});

describe("windows", () => {
  const now = Date.parse("2026-12-06T21:04:05.678Z");
  it("give both ends, to the second, and start at the first bucket's start", () => {
    expect(windowQuery("24h", now)).toEqual({ from: "2026-12-05T22:00:00Z",
                                              to: "2026-12-06T21:04:05Z", bucket: "hour" });
    expect(windowQuery("7d", now)).toEqual({ from: "2026-11-29T22:00:00Z",
                                             to: "2026-12-06T21:04:05Z", bucket: "hour" });
    expect(windowQuery("30d", now)).toEqual({ from: "2026-11-07T00:00:00Z",
                                              to: "2026-12-06T21:04:05Z", bucket: "day" });
    expect(windowQuery("nonsense", now).bucket).toBe("hour");
  });
  it("stay within the API's limits (hour: 7 days, day: 366 days), even on the hour", () => {
    for (const t of [now, Date.parse("2026-12-06T21:00:00Z"), Date.parse("2026-12-06T21:59:59.999Z")]) {
      for (const [id, limit] of [["24h", 7], ["7d", 7], ["30d", 366]]) {
        const q = windowQuery(id, t);
        expect(Date.parse(q.to) - Date.parse(q.from)).toBeLessThanOrEqual(limit * 86400e3);
        expect(Date.parse(q.from)).toBeLessThanOrEqual(Date.parse(q.to));
      }
    }
  });
  it("cover as many buckets as the window names", () => {
    const hours = (q) => Math.floor((Date.parse(q.to) - Date.parse(q.from)) / 3600e3) + 1;
    expect(hours(windowQuery("24h", now))).toBe(24);
    expect(hours(windowQuery("7d", now))).toBe(168);
  });
});

describe("evaluation charts", () => {
  it("stack one dataset per decision over every bucket", () => {
    const c = seriesChart(STATS);
    expect(c.labels).toEqual(["12-05 21:00", "12-05 22:00", "12-05 23:00"]);
    expect(c.datasets.map((d) => d.decision)).toEqual(["compliant", "needs_review", "non_compliant"]);
    expect(c.datasets.map((d) => d.data)).toEqual([[4, 0, 1], [0, 0, 1], [1, 0, 2]]);
    expect(c.datasets[0].label).toBe("Compliant");
    expect(c.datasets[1].label).toBe("Needs review");
    expect(c.datasets[2].backgroundColor).toBe(COLOURS.non_compliant);
  });
  it("keep decisions the page does not know, in a neutral colour", () => {
    const body = { ...STATS, decisions: { ...STATS.decisions, escalated: 1 },
                   series: [{ start: "2026-12-05T21:00:00Z", counts: { escalated: 1 } }] };
    expect(decisionsOf(body)).toEqual([...DECISIONS, "escalated"]);
    const c = seriesChart(body);
    expect(c.datasets[3]).toMatchObject({ label: "Escalated", data: [1],
                                           backgroundColor: COLOURS.unknown });
  });
  it("give the data table its rows with totals", () => {
    expect(seriesRows(STATS).map((r) => [r.name, r.counts, r.total])).toEqual([
      ["2026-12-05 21:00 UTC", [4, 0, 1], 5],
      ["2026-12-05 22:00 UTC", [0, 0, 0], 0],
      ["2026-12-05 23:00 UTC", [1, 1, 2], 4],
    ]);
  });
  it("say when a window is empty", () => {
    expect(isEmptyWindow({ ...STATS, total: 0 })).toBe(true);
    expect(isEmptyWindow(STATS)).toBe(false);
  });
  it("turn the top lists into bars", () => {
    expect(topChart(STATS.top_rules, "rule")).toEqual({ labels: ["big-cash", "pep"], data: [6, 2] });
    expect(topChart(undefined, "rule")).toEqual({ labels: [], data: [] });
  });
});

describe("chart summaries", () => {
  it("describe the decisions over time", () => {
    expect(seriesSummary(STATS, "24h")).toBe(
      "Stacked bar chart of evaluations per hour by decision over the last 24 hours: " +
      "9 evaluations (compliant 5, needs review 1 and non compliant 3); the busiest hour " +
      "was 2026-12-05 21:00 UTC with 5.");
    expect(seriesSummary({ ...STATS, bucket: "day", total: 0, decisions: {} }, "30d"))
      .toBe("Evaluations per day over the last 30 days: none.");
  });
  it("describe the top lists", () => {
    const rules = ["a", "b", "c", "d", "e"].map((rule, i) => ({ rule, evaluations: 10 - i }));
    expect(topSummary(rules, "rule", "Top rules")).toBe(
      "Horizontal bar chart of top rules, by evaluations: a 10, b 9, c 8, and 2 more.");
    expect(topSummary([], "rule", "Top rules")).toBe("Top rules: none in this window.");
  });
});

describe("queues", () => {
  const body = { items: [
    { queue: "aml", open: 2, in_review: 1, escalated: 1, pending_approval: 0, sla_breached: 3,
      oldest_due_at: "2026-12-01T00:00:00Z" },
    { queue: "kyc", open: 1, in_review: 0, escalated: 0, pending_approval: 1, sla_breached: 0,
      oldest_due_at: null },
  ], page: 1, per_page: 2, total: 2 };
  it("count every case not closed and split off those past their SLA", () => {
    const rows = queueRows(body);
    expect(rows.map((r) => [r.queue, r.open, r.within, r.breached])).toEqual([
      ["aml", 4, 1, 3], ["kyc", 2, 2, 0]]);
    const c = queueChart(rows);
    expect(c.labels).toEqual(["aml", "kyc"]);
    expect(c.datasets.map((d) => [d.label, d.data])).toEqual([
      ["Within SLA", [1, 2]], ["SLA breached", [3, 0]]]);
    expect(c.datasets[1].backgroundColor).toBe(COLOURS.breached);
  });
  it("describe the chart", () => {
    expect(queueSummary(queueRows(body))).toBe(
      "Stacked bar chart of open cases per queue, SLA breaches in red: 6 open cases in " +
      "2 queues, 3 past their SLA; aml 4 (3 past SLA), kyc 2.");
    expect(queueSummary([])).toBe("Open cases per queue: none.");
  });
});

describe("anchors", () => {
  it("measure how far behind the log an anchor is", () => {
    expect(behind(120, { tree_size: 100 })).toEqual({ entries: 20, text: "20 entries behind the log",
                                                      brief: "20 entries" });
    expect(behind(1101, { tree_size: 100 })).toMatchObject({ entries: 1001, brief: "1,001 entries" });
    expect(behind(101, { tree_size: 100 })).toMatchObject({ entries: 1, text: "1 entry behind the log" });
    expect(behind(100, { tree_size: 100 })).toMatchObject({ entries: 0, text: "covers the whole log" });
    // a head read before the anchor was made: never "behind" by a negative count
    expect(behind(90, { tree_size: 100 }).entries).toBe(0);
    expect(behind(100, null)).toMatchObject({ entries: null, text: "no anchor yet" });
  });

  const anchor = (id, chain, size, status = "confirmed") => ({
    id, chain, tree_size: size, root_hash: "ab", status, tx_hash: `0x${id}`, confirmations: 3 });
  const anchors = { a: [anchor(1, "a", 10), anchor(3, "a", 30, "pending")], b: [anchor(2, "b", 20)],
                    c: [] };
  const fake = (calls) => async (path, q = {}) => {
    calls.push([path, q]);
    if (path === "/api/v1/log/sth") return { tree_size: 35, root_hash: "cd", timestamp: "t", key_id: "k" };
    const all = q.chain ? anchors[q.chain] : Object.values(anchors).flat();
    const page = q.page || 1;
    return { items: all.slice(page - 1, page), page, per_page: 1, total: all.length,
             chains: ["a", "b", "c"].map((chain) => ({ chain, confirmation_blocks: 3,
               contract_address: null, healthy: null, last_error: null })) };
  };
  it("find each chain's latest anchor on its last page", async () => {
    const calls = [];
    expect((await latestAnchor(fake(calls), "a")).id).toBe(3);
    expect(calls.at(-1)).toEqual(["/api/v1/anchors", { chain: "a", per_page: 1, page: 2 }]);
    expect((await latestAnchor(fake([]), "b")).id).toBe(2);
    expect(await latestAnchor(fake([]), "c")).toBe(null);
  });
  it("load the head and every chain's anchor, and chart them", async () => {
    const { sth, chains } = await loadLog(fake([]));
    expect(chains.map((r) => [r.chain, r.anchor?.id ?? null, r.behind.entries])).toEqual([
      ["a", 3, 5], ["b", 2, 15], ["c", null, null]]);
    const c = logChart(sth, chains);
    expect(c.labels).toEqual(["Log", "a (pending)", "b (confirmed)"]);
    expect(c.datasets[0].data).toEqual([35, 30, 20]);
    expect(c.datasets[0].backgroundColor).toEqual([COLOURS.log, COLOURS.pending, COLOURS.confirmed]);
    expect(logSummary(sth, chains)).toBe(
      "Horizontal bar chart of entries: the log has 35 entries; a's latest anchor (pending) " +
      "covers 30, 5 entries behind the log; b's latest anchor (confirmed) covers 20, 15 " +
      "entries behind the log; c has no anchor yet.");
  });
  it("say so when no chain is configured", () => {
    const sth = { tree_size: 1 };
    expect(chainRows([], {}, 1)).toEqual([]);
    expect(logSummary(sth, [])).toBe(
      "Horizontal bar chart of entries: the log has 1 entry; no chain is configured for anchoring.");
  });
});
