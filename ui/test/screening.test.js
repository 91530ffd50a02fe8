import { describe, expect, it } from "vitest";
import { describeFeature, percent, screenBody, signed, splitList } from "../src/pages/screening/model.js";

describe("screening query", () => {
  it("sends only what was filled in", () => {
    expect(screenBody({ name: " Vladimir Putin ", schema: "Person", birth_date: "", countries: "",
      topics: [], other_topics: "", threshold: "", limit: "", subject_id: "" }))
      .toEqual({ name: "Vladimir Putin", schema: "Person" });
    expect(screenBody({ name: "X", schema: "Vessel", birth_date: "1952", countries: "ru, by;de",
      topics: ["role.pep"], other_topics: "crime role.pep", threshold: "0.7", limit: "5",
      subject_id: "c1" })).toEqual({ name: "X", schema: "Vessel", birth_date: "1952",
      countries: ["ru", "by", "de"], topics: ["role.pep", "crime"], threshold: 0.7, limit: 5,
      subject_id: "c1" });
    expect(splitList("")).toEqual([]);
  });
  it("explains features in words", () => {
    expect(describeFeature("token_exact")).toEqual({ aspect: "Name part", how: "exact" });
    expect(describeFeature("token_fuzzy_weak_alias").how).toMatch(/weak alias/);
    expect(describeFeature("something_new")).toEqual({ aspect: "Other", how: "something new" });
    expect(signed(0.4785)).toBe("+0.4785");
    expect(signed(-0.25)).toBe("−0.2500");
    expect(signed(0)).toBe("0");
    expect(percent(0.857)).toBe("85.7 %");
    expect(percent(1)).toBe("100 %");
  });
});
