/**
 * Asks a site's servers what `npm run status` judges (ops/status.ts): over HTTPS, checking their
 * certificates against the cluster CA of the infra outputs, with the management tokens in headers
 * (never printed). Every request is bounded in time; all are sent at once, so a site answers in
 * about one timeout at worst, and a server that does not answer is one answer among the others.
 */
import * as https from "node:https";
import { InfraOutputs } from "./infra-outputs";
import { Answer, Observations, ROUTES, ServerAnswers } from "./status";

/** How long one request may take, connection included. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** At most this much of an answer is read (a listing of thousands of nodes is well under it). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export interface ProbeOptions {
  /** @default DEFAULT_REQUEST_TIMEOUT_MS */
  readonly timeoutMs?: number;
}

/** Why a request got no answer, in a few words (Node's error codes, with what they mean here). */
function failure(err: unknown, timeoutMs: number): string {
  const e = err as NodeJS.ErrnoException & { name?: string };
  if (e?.name === "TimeoutError" || e?.name === "AbortError" || e?.code === "ABORT_ERR") return `no answer within ${timeoutMs / 1000} s`;
  switch (e?.code) {
    case "ECONNREFUSED":
      return "connection refused (is the agent running?)";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${e.code === "EHOSTUNREACH" ? "host" : "network"} unreachable (is the VPN up, and does it route the site's range?)`;
    case "ECONNRESET":
      return "connection reset";
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "CERT_SIGNATURE_FAILURE":
      return `its TLS certificate is not signed by the CA of the infra outputs (${e.code})`;
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return "its TLS certificate does not name this address (ERR_TLS_CERT_ALTNAME_INVALID)";
    case "CERT_HAS_EXPIRED":
      return "its TLS certificate has expired";
    default:
      return `${e?.code ? `${e.code}: ` : ""}${String(e?.message ?? err).split("\n")[0]}`;
  }
}

/** One GET; never throws: an answer (any status) or why there was none. */
export function get(url: string, ca: string, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<Answer> {
  return send(url, ca, headers, timeoutMs, "GET");
}

/** One request (a JSON body when given); never throws: an answer (any status) or why there was none. */
export function send(url: string, ca: string, headers: Readonly<Record<string, string>>, timeoutMs: number, method: string, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve) => {
    let req: ReturnType<typeof https.request>;
    try {
      const all = { accept: "application/json", ...(payload !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) } : {}), ...headers };
      req = https.request(url, { method, ca, headers: all, agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown = undefined;
          try {
            json = JSON.parse(text);
          } catch {
            /* an error in plain text */
          }
          resolve({ ok: true, status: res.statusCode ?? 0, text, json });
        });
        res.on("error", (e) => resolve({ ok: false, error: failure(e, timeoutMs) }));
      });
    } catch (e) {
      resolve({ ok: false, error: failure(e, timeoutMs) });
      return;
    }
    req.on("error", (e) => resolve({ ok: false, error: failure(e, timeoutMs) }));
    req.end(payload);
  });
}

/** Every route of ROUTES[kind] asked of one server, at once. */
async function askServer(kind: keyof typeof ROUTES, base: string, ca: string, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<ServerAnswers> {
  const routes = ROUTES[kind];
  const url = (route: string) => new URL(route, base.endsWith("/") ? base : `${base}/`).toString();
  const [leader, peers, tokenSelf, listing] = await Promise.all([
    get(url(routes.leader), ca, {}, timeoutMs),
    get(url(routes.peers), ca, {}, timeoutMs),
    get(url(routes.tokenSelf), ca, headers, timeoutMs),
    get(url(routes.listing), ca, headers, timeoutMs),
  ]);
  return { url: base, leader, peers, tokenSelf, listing };
}

/** What every Consul and Nomad server of the infra outputs answers. */
export async function observe(outputs: InfraOutputs, opts: ProbeOptions = {}): Promise<Observations> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const ca = outputs.caCertificate;
  const [consul, nomad] = await Promise.all([
    Promise.all(outputs.consulServers.map((u) => askServer("consul", u, ca, { "X-Consul-Token": outputs.consulToken }, timeoutMs))),
    Promise.all(outputs.nomadServers.map((u) => askServer("nomad", u, ca, { "X-Nomad-Token": outputs.nomadToken }, timeoutMs))),
  ]);
  return { consul, nomad };
}

/**
 * One call to a site's servers for `npm run roll` (ops/roll.ts): each server in turn until one
 * answers (a server being replaced does not), or the one at address `at`, with the management
 * token of its kind.
 */
export function siteRequest(outputs: InfraOutputs, opts: ProbeOptions = {}): (kind: "consul" | "nomad", method: string, route: string, body?: unknown, at?: string) => Promise<Answer> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return async (kind, method, route, body, at) => {
    const all = kind === "consul" ? outputs.consulServers : outputs.nomadServers;
    const bases = at === undefined ? all : all.filter((b) => new URL(b).hostname === at);
    const headers: Record<string, string> = kind === "consul" ? { "X-Consul-Token": outputs.consulToken } : { "X-Nomad-Token": outputs.nomadToken };
    let last: Answer = { ok: false, error: "no server" };
    for (const base of bases) {
      last = await send(new URL(route, base.endsWith("/") ? base : `${base}/`).toString(), outputs.caCertificate, headers, timeoutMs, method, body);
      if (last.ok && last.status < 500) return last;
    }
    return last;
  };
}
