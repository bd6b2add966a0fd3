// An integrator's first script against Rapport, written with a client generated from the served
// spec (openapi-typescript + openapi-fetch). If the spec types something wrong, this file stops
// compiling (tsc --strict, no casts); if the server answers something else, it throws.
//
//   npx openapi-typescript "$RAPPORT_URL/api-docs/openapi.json" -o client/schema.d.ts
//   npx tsc -p client/tsconfig.json && node client/dist/scenario.js
//
// Env: RAPPORT_URL (default http://127.0.0.1:8080), DEMO_EMAIL / DEMO_PASSWORD.
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

// Types come from operations (method + path), not from component names, which may be renamed.
type JsonOk<Op, S extends number> = Op extends { responses: { [K in S]: { content: { "application/json": infer R } } } } ? R : never;
type JsonBody<Op> = Op extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
type Customer = JsonOk<paths["/api/v1/customers/{id}"]["get"], 200>;
type Interaction = JsonOk<paths["/api/v1/interactions/{id}"]["get"], 200>;
type BatchRequest = JsonBody<paths["/api/v1/interactions/batch"]["post"]>;
// What API.md promises of every error: RFC 9457 with a stable `code` and the request's id.
interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: { field: string; message: string }[] | null;
  request_id?: string | null; // absent only in problems stored outside a request (a scheduled run's)
}

const BASE = (process.env.RAPPORT_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const EMAIL = process.env.DEMO_EMAIL ?? "demo@rapport.local";
const PASSWORD = process.env.DEMO_PASSWORD ?? "demo-password";
const RUN = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

let passed = 0;
function step(name: string, ok: boolean, detail = ""): void {
  if (!ok) throw new Error(`${name}${detail ? `: ${detail}` : ""}`);
  passed += 1;
  console.log(`  ok  ${name}${detail ? ` — ${detail}` : ""}`);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

// A non-2xx answer in one line: status, code, detail, the fields named, the request id.
function describe(status: number, error: unknown): string {
  if (!isRecord(error)) return `${status} ${String(error ?? "")}`.trim();
  const errors = Array.isArray(error.errors) ? error.errors : [];
  const fields = errors.map((e) => (isRecord(e) ? `${String(e.field)}: ${String(e.message)}` : String(e))).join("; ");
  return `${status} ${String(error.code)}: ${String(error.detail)}${fields ? ` [${fields}]` : ""} (request ${String(error.request_id)})`;
}

// Unwraps an openapi-fetch answer: its data when the status is the expected one.
function expect<D, E>(what: string, answer: { data?: D; error?: E; response: Response }, status: number): D {
  const { data, error, response } = answer;
  if (response.status !== status || data === undefined) {
    throw new Error(`${what}: expected ${status}, got ${describe(response.status, error)}`);
  }
  return data;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (isRecord(a) || isRecord(b)) {
    if (!isRecord(a) || !isRecord(b)) return false;
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameJson(a[k], b[k]));
  }
  return a === b;
}

async function main(): Promise<void> {
  console.log(`client: ${BASE} as ${EMAIL} (run ${RUN})`);

  // 1. Log in; every later call carries the access token.
  const anonymous = createClient<paths>({ baseUrl: BASE });
  const tokens = expect(
    "POST /auth/login",
    await anonymous.POST("/api/v1/auth/login", { body: { email: EMAIL, password: PASSWORD } }),
    200,
  );
  step("log in", tokens.token_type === "Bearer" && tokens.access_token.length > 0, `expires in ${tokens.expires_in} s`);
  const api = createClient<paths>({ baseUrl: BASE, headers: { Authorization: `Bearer ${tokens.access_token}` } });

  const me = expect("GET /me", await api.GET("/api/v1/me"), 200);
  step("GET /me", me.user.email.toLowerCase() === EMAIL.toLowerCase(), `${me.role} in ${me.workspace.name}`);

  // 2. A customer with custom fields: `attributes` takes any JSON object…
  const attributes = {
    tier: "gold",
    seats: 12,
    renewal: { month: 3, auto: true },
    regions: ["eu", "us"],
    referrer: null,
  };
  // …which the customer carries back as they are (any JSON object, typed as one).
  const expectedAttributes: Customer["attributes"] = attributes;
  const email = `e2e-${RUN}@example.com`;
  const created = await api.POST("/api/v1/customers", {
    body: { kind: "company", name: `E2E ${RUN}`, email, country: "GB", tags: ["e2e", `run-${RUN}`], attributes },
    params: { header: { "Idempotency-Key": `customer-${RUN}` } },
  });
  const customer = expect("POST /customers", created, 201);
  step("create a customer with custom fields", sameJson(customer.attributes, expectedAttributes), JSON.stringify(customer.attributes));
  const customerEmail: string | null = customer.email;
  step("customer fields round-trip", customerEmail === email && customer.country === "GB" && customer.tags.includes("e2e"));
  step("Location header names it", (created.response.headers.get("Location") ?? "").endsWith(`/customers/${customer.id}`));

  const byTag = expect(
    "GET /customers?tag=",
    await api.GET("/api/v1/customers", { params: { query: { tag: [`run-${RUN}`], limit: 10 } } }),
    200,
  );
  step("find it by tag", byTag.data.length === 1 && byTag.data[0]?.id === customer.id);

  // 3. Interactions: one, then a batch (idempotent: the same key and body answer the same ids).
  const channels = expect("GET /channels", await api.GET("/api/v1/channels", { params: { query: { limit: 200 } } }), 200);
  const emailChannel = channels.data.find((c) => c.kind === "email" && c.active);
  const anyChannel = emailChannel ?? channels.data.find((c) => c.active);
  if (!anyChannel) throw new Error("no active channel in the workspace");
  const channel_id = anyChannel.id;
  step("an active channel", true, `${anyChannel.kind} ${anyChannel.name}`);

  const metadata = { source: "e2e", attempt: 1, labels: ["first"] };
  const expectedMetadata: Interaction["metadata"] = metadata;
  const single = expect(
    "POST /interactions",
    await api.POST("/api/v1/interactions", {
      body: {
        customer_id: customer.id,
        channel_id,
        direction: "inbound",
        kind: "message",
        subject: "Hello",
        body: "First contact",
        metadata,
      },
      params: { header: { "Idempotency-Key": `interaction-${RUN}` } },
    }),
    201,
  );
  step("log one interaction", single.customer_id === customer.id && sameJson(single.metadata, expectedMetadata), JSON.stringify(single.metadata));

  const batchBody: BatchRequest = {
    items: [
      { customer_id: customer.id, channel_id, direction: "outbound", kind: "call", duration_seconds: 300, subject: "Discovery call" },
      { customer_id: customer.id, channel_id, direction: "outbound", kind: "meeting", subject: "Demo" },
      {
        customer_id: customer.id,
        channel_id,
        direction: "inbound",
        kind: "purchase",
        value_cents: 129900,
        items: ["SKU-SEAT", "SKU-SUPPORT"],
        external_id: `order-${RUN}`,
      },
    ],
  };
  const batchKey = `batch-${RUN}`;
  const batch = expect(
    "POST /interactions/batch",
    await api.POST("/api/v1/interactions/batch", { body: batchBody, params: { header: { "Idempotency-Key": batchKey } } }),
    201,
  );
  step("log a batch", batch.ids.length === 3, batch.ids.join(", "));
  const replay = expect(
    "POST /interactions/batch (replayed)",
    await api.POST("/api/v1/interactions/batch", { body: batchBody, params: { header: { "Idempotency-Key": batchKey } } }),
    201,
  );
  step("replaying the batch with its Idempotency-Key answers the same ids", replay.ids.join() === batch.ids.join());
  const reused = await api.POST("/api/v1/interactions/batch", {
    body: { items: batchBody.items.slice(0, 1) },
    params: { header: { "Idempotency-Key": batchKey } },
  });
  step("the same key with another body is 409", reused.response.status === 409 && reused.error?.code === "conflict", describe(reused.response.status, reused.error));

  // 4. Page its interactions to the end with limit/cursor.
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: { customer_id: string; limit: number; cursor?: string } = { customer_id: customer.id, limit: 2 };
    if (cursor !== null) query.cursor = cursor;
    const page = expect("GET /interactions", await api.GET("/api/v1/interactions", { params: { query } }), 200);
    seen.push(...page.data.map((i) => i.id));
    cursor = page.next_cursor;
    pages += 1;
    if (pages > 20) throw new Error("GET /interactions: more than 20 pages of 2 for 4 interactions");
  } while (cursor !== null);
  const logged = [single.id, ...batch.ids];
  step(
    "page its interactions to the end (limit 2, next_cursor)",
    seen.length === logged.length && new Set(seen).size === seen.length && logged.every((id) => seen.includes(id)),
    `${seen.length} interactions in ${pages} pages`,
  );

  // 5. A deal, moved to another stage with If-Match: its ETag.
  const pipelines = expect("GET /pipelines", await api.GET("/api/v1/pipelines"), 200);
  const pipeline = pipelines.data[0];
  if (!pipeline) throw new Error("no pipeline in the workspace");
  const stages = [...pipeline.stages].sort((a, b) => a.position - b.position);
  const first = stages.find((s) => s.kind === "open");
  const won = stages.find((s) => s.kind === "won");
  if (!first || !won) throw new Error(`pipeline ${pipeline.id} lacks an open or a won stage`);
  const dealCreated = await api.POST("/api/v1/deals", {
    body: { pipeline_id: pipeline.id, customer_id: customer.id, title: `E2E ${RUN}`, amount_cents: 129900, stage_id: first.id },
    params: { header: { "Idempotency-Key": `deal-${RUN}` } },
  });
  const deal = expect("POST /deals", dealCreated, 201);
  const etag = dealCreated.response.headers.get("ETag");
  step("create a deal", deal.stage_id === first.id && deal.status === "open" && etag !== null, `in "${first.name}", ETag ${etag}`);
  if (etag === null) throw new Error("POST /deals: no ETag");

  const stale = await api.PATCH("/api/v1/deals/{id}", {
    params: { path: { id: deal.id }, header: { "If-Match": `"${deal.version + 1000}"` } },
    body: { stage_id: won.id },
    headers: { "Content-Type": "application/merge-patch+json" },
  });
  step("a stale If-Match is 412", stale.response.status === 412 && stale.error?.code === "precondition_failed", describe(stale.response.status, stale.error));

  const moved = expect(
    "PATCH /deals/{id}",
    await api.PATCH("/api/v1/deals/{id}", {
      params: { path: { id: deal.id }, header: { "If-Match": etag } },
      body: { stage_id: won.id },
      headers: { "Content-Type": "application/merge-patch+json" },
    }),
    200,
  );
  const closedAt: string | null = moved.closed_at;
  step(
    "move it to the won stage with If-Match",
    moved.stage_id === won.id && moved.status === "won" && moved.version === deal.version + 1 && closedAt !== null,
    `version ${deal.version} → ${moved.version}, closed at ${closedAt}`,
  );
  const history = expect("GET /deals/{id}/history", await api.GET("/api/v1/deals/{id}/history", { params: { path: { id: deal.id } } }), 200);
  const moves = history.map((h) => `${h.from_stage_id ?? "∅"}→${h.to_stage_id}`);
  step("its history has both stage changes", history.length === 2 && history.some((h) => h.from_stage_id === first.id && h.to_stage_id === won.id), moves.join(", "));

  // 6. Analytics: the funnel of that pipeline, segments by a custom field and by country.
  const funnel = expect(
    "GET /analytics/funnel",
    await api.GET("/api/v1/analytics/funnel", { params: { query: { pipeline_id: pipeline.id } } }),
    200,
  );
  step("funnel (pipeline_id)", funnel.pipeline_id === pipeline.id && funnel.entered >= 1 && funnel.won >= 1 && funnel.stages.length > 0,
    `${funnel.entered} entered, ${funnel.won} won, win rate ${funnel.win_rate}`);

  const byTier = expect(
    "GET /analytics/segments",
    await api.GET("/api/v1/analytics/segments", { params: { query: { dimension: "attr.tier" } } }),
    200,
  );
  const gold = byTier.groups.find((g) => g.key === "gold");
  step("segments (dimension=attr.tier) count our customer", gold !== undefined && gold.customers >= 1 && gold.interactions >= 4,
    gold ? `gold: ${gold.customers} customers, ${gold.interactions} interactions` : "no gold group");
  const byCountry = expect(
    "GET /analytics/segments",
    await api.GET("/api/v1/analytics/segments", { params: { query: { dimension: "country" } } }),
    200,
  );
  step("segments (dimension=country)", byCountry.dimension === "country" && byCountry.groups.some((g) => g.key === "GB"),
    `${byCountry.groups.length} groups, ${byCountry.totals.customers} customers`);

  // 7. Bad input is a 422 problem naming the field.
  const bad = await api.POST("/api/v1/customers", { body: { name: `Bad ${RUN}`, email: "not an email" } });
  const problem: Problem | undefined = bad.error;
  const badFields = (problem?.errors ?? []).map((e) => e.field);
  step(
    "bad input is a 422 problem with code and errors[].field",
    bad.response.status === 422 &&
      (bad.response.headers.get("content-type") ?? "").startsWith("application/problem+json") &&
      problem?.code === "validation_failed" &&
      badFields.includes("email"),
    describe(bad.response.status, problem),
  );

  console.log(`client: ${passed} steps ok`);
  console.log(`${passed} passed, 0 failed`);
}

main().catch((e: unknown) => {
  console.error(`client: FAILED after ${passed} steps: ${e instanceof Error ? e.message : String(e)}`);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
});
