// What the screening screens need without rendering: the query body of
// `POST /api/v1/screen`, and the explanation of a match in words (docs/screening.md,
// "How names are matched"). Pure functions, unit-tested.

// arka.screening.ftm.SCHEMATA: what a name can be screened as.
export const SCHEMATA = ["Person", "Organization", "Company", "LegalEntity", "PublicBody",
  "Vessel", "Airplane", "Vehicle", "Asset", "Security"];
// The topics most asked for; any other topic of the API can be typed in.
export const COMMON_TOPICS = [
  { id: "sanction", label: "Sanctions (sanction)" },
  { id: "role.pep", label: "Politically exposed persons (role.pep)" },
  { id: "role.rca", label: "Relatives and close associates (role.rca)" },
  { id: "sanction.linked", label: "Linked to sanctioned entities (sanction.linked)" },
  { id: "crime", label: "Crime (crime)" },
  { id: "debarment", label: "Debarment (debarment)" },
];

/** "ru, DE  ;fr" → ["ru", "DE", "fr"] (comma, semicolon or space separated). */
export function splitList(text) {
  return String(text || "").split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

/** The request body for the form's values; empty optional fields are left out so that
 * the API's defaults apply (threshold 0.8, limit 10, topics [sanction]). */
export function screenBody(f) {
  const body = { name: f.name.trim(), schema: f.schema || "Person" };
  if (f.birth_date?.trim()) body.birth_date = f.birth_date.trim();
  const countries = splitList(f.countries);
  if (countries.length) body.countries = countries;
  const topics = [...new Set([...(f.topics || []), ...splitList(f.other_topics)])];
  if (topics.length) body.topics = topics;
  if (String(f.threshold ?? "").trim() !== "") body.threshold = Number(f.threshold);
  if (String(f.limit ?? "").trim() !== "") body.limit = Number(f.limit);
  if (f.subject_id?.trim()) body.subject_id = f.subject_id.trim();
  return body;
}

const FEATURES = {
  name_exact: ["Whole name", "the same name, exactly"],
  name_compact: ["Whole name", "the same letters, written without spaces or split differently"],
  name_token_sort: ["Whole name", "the same words in another order, close spelling"],
  token_exact: ["Name part", "exact"],
  token_romanised: ["Name part", "another romanisation of the same word"],
  token_fuzzy: ["Name part", "close spelling (a few letters differ)"],
  token_phonetic: ["Name part", "sounds the same"],
  token_initial: ["Name part", "an initial of the word"],
  token_unmatched: ["Name part", "in the query, not in the listed name"],
  token_not_in_query: ["Name part", "in the listed name, not in the query"],
  birth_date_match: ["Birth date", "the same full date"],
  birth_year_match: ["Birth date", "the same year"],
  birth_date_mismatch: ["Birth date", "the same year, another day"],
  birth_year_mismatch: ["Birth date", "no year in common"],
  country_match: ["Country", "a country in common"],
  country_mismatch: ["Country", "every listed country differs"],
  clamp: ["Score limit", "the total is kept between 0 and 1"],
};

/** A feature as {aspect, how}: "token_fuzzy_weak_alias" → Name part, "close spelling
 * … (weak alias: counts three quarters)". Unknown features are shown as they are. */
export function describeFeature(feature) {
  const weak = feature.endsWith("_weak_alias");
  const base = weak ? feature.slice(0, -"_weak_alias".length) : feature;
  const [aspect, how] = FEATURES[base] || ["Other", base.replaceAll("_", " ")];
  return { aspect, how: weak ? `${how} (weak alias: counts three quarters)` : how };
}

/** A contribution as signed text: 0.4785 → "+0.4785", -0.25 → "−0.2500", 0 → "0". */
export function signed(n) {
  const v = Number(n);
  if (!Number.isFinite(v)) return String(n);
  if (v === 0) return "0";
  return `${v > 0 ? "+" : "−"}${Math.abs(v).toFixed(4)}`;
}

/** The score as a percentage for reading ("0.857" → "85.7 %"). */
export function percent(score) {
  const v = Number(score);
  return Number.isFinite(v) ? `${(v * 100).toFixed(1).replace(/\.0$/, "")} %` : String(score);
}
