// How a front-end or a bank's integration uses the generated types with openapi-fetch: list
// enterprises (an official), post a loan batch (a bank), and tell problems apart by their `code`.
// Compiled under `tsc --strict` against the types generated from the merged document; run with
// node against a gateway (EAGLET_URL; EAGLET_OFFICIAL_KEY and EAGLET_BANK_KEY: API keys;
// EAGLET_BORROWER: a registered credit code), it prints what it saw as one JSON line.
import createClient from "openapi-fetch";
import type { paths } from "./schema";

type LoanBatch = paths["/finance/v1/loans/batch"]["post"]["requestBody"]["content"]["application/json"];
export type LoanRecord = LoanBatch["records"][number];

export function eaglet(baseUrl: string, key: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key}` } });
}
type Eaglet = ReturnType<typeof eaglet>;

export async function enterpriseNames(api: Eaglet, region: string): Promise<string[]> {
  const { data, error } = await api.GET("/registry/v1/enterprises", {
    params: { query: { region, limit: 50 } },
  });
  if (error) throw new Error(`${error.status} ${error.code}: ${error.detail ?? error.title}`);
  return data.items.map((e) => `${e.credit_code} ${e.name}`);
}

/** Posts a batch; sent again with the same key (a retry), it is answered from the first post. */
export async function postLoans(api: Eaglet, records: LoanRecord[], idempotencyKey: string) {
  const { data, error, response } = await api.POST("/finance/v1/loans/batch", {
    params: { query: { atomic: true }, header: { "Idempotency-Key": idempotencyKey } },
    body: { records },
  });
  if (error) throw new Error(`${error.status} ${error.code}`);
  const rejected = data.results.filter((r) => r.status === "rejected");
  return {
    created: data.summary.created,
    committed: data.committed,
    rejected: rejected.length,
    replayed: response.headers.get("Idempotent-Replayed") === "true",
  };
}

/** What a caller shows for a problem, told apart by its `code`. */
export async function lookUp(api: Eaglet, creditCode: string): Promise<string> {
  const { data, error, response } = await api.GET("/registry/v1/enterprises/{credit_code}", {
    params: { path: { credit_code: creditCode } },
  });
  if (data) return data.name;
  switch (error.code) {
    case "credit_code_length":
    case "credit_code_alphabet":
    case "credit_code_area":
    case "credit_code_check":
      return `invalid credit code (${error.code}): ${error.detail ?? error.title}`;
    case "validation_failed":
      return (error.errors ?? []).map((e) => `${e.pointer}: ${e.message}`).join("; ");
    case "not_found":
      return `no enterprise ${creditCode}`;
    case "rate_limited":
      return `retry after ${response.headers.get("Retry-After") ?? "?"} s`;
    default:
      return `${error.status} ${error.code}`;
  }
}

export function loan(borrower: string, ref: string): LoanRecord {
  return {
    loan_ref: ref,
    borrower_credit_code: borrower,
    borrower_name: "杭州测试科技有限公司",
    borrower_size: "small",
    product: "credit",
    amount: "1000000.00",
    annual_rate: "4.35",
    issued_on: "2022-03-01",
    matures_on: "2023-03-01",
    renewal_type: "new",
    is_first_loan: false,
    outstanding_balance: "1000000.00",
    status: "outstanding",
  };
}

async function main(): Promise<void> {
  const env = process.env;
  const [url, officialKey, bankKey, borrower] = [
    env.EAGLET_URL,
    env.EAGLET_OFFICIAL_KEY,
    env.EAGLET_BANK_KEY,
    env.EAGLET_BORROWER,
  ];
  if (!url || !officialKey || !bankKey || !borrower) throw new Error("see the variables above");
  const official = eaglet(url, officialKey);
  const names = await enterpriseNames(official, borrower.slice(2, 8));
  const bank = eaglet(url, bankKey);
  const batch = await postLoans(bank, [loan(borrower, "TS-0001")], "ts-usage-1");
  const retried = await postLoans(bank, [loan(borrower, "TS-0001")], "ts-usage-1");
  const problem = await lookUp(official, "91330000733796106X"); // a wrong check character
  console.log(JSON.stringify({ names, batch, retried, problem }));
}

declare const process: { env: Record<string, string | undefined> };
if (process.env.EAGLET_URL) await main();
