/**
 * The public HTTP(S) entry: HAProxy on the ingress nodes, declared as a {@link WorkloadSpec}.
 *
 * HAProxy binds ports 80 and 443 of the ingress clients, terminates TLS with a certificate read
 * from a Nomad variable, and sends each public route to its service through the Connect mesh: one
 * upstream per service, on a local port of the allocation (127.0.0.1:<localPort>). The sidecar
 * tracks the service's healthy instances as the catalog changes and the intentions decide who may
 * call whom, so HAProxy never reloads for a scaling event; it only reloads (SIGUSR2, master-worker
 * mode) when the certificate changes.
 *
 * haproxy.cfg is rendered from a typed model ({@link HaproxySection}); every word is checked, and
 * quoted when it needs to be, so no input can add a line or a directive.
 */
import { ServiceProtocol } from "../consul/mesh";
import { Duration } from "../nomad";
import { describeValue } from "../nomad/internal";
import { CLUSTER_PORTS } from "../../cloud-init/agents";
import { jobVariablePath, secretFile } from "./data";
import { Dependency, NODE_CLASSES, Secret, WorkloadKind, WorkloadSpec } from "./spec";
import { ProblemsError } from "../problems";

// ---------------------------------------------------------------------------------------------
// haproxy.cfg: a typed model and its renderer

/** The kind of a haproxy.cfg section. */
export enum HaproxySectionKind {
  GLOBAL = "global",
  DEFAULTS = "defaults",
  FRONTEND = "frontend",
  BACKEND = "backend",
}

/** One line of a section: its words, keyword(s) first, e.g. `["timeout", "connect", "5s"]`. */
export interface HaproxyLine {
  readonly words: readonly string[];
}

/** A section of haproxy.cfg. */
export interface HaproxySection {
  readonly kind: HaproxySectionKind;
  /** Section name; required for frontends and backends. @default - none (global, defaults) */
  readonly name?: string;
  readonly lines: readonly HaproxyLine[];
}

/** Words HAProxy reads as they are (no quoting, escaping, comment or variable expansion). */
const PLAIN_WORD = /^[A-Za-z0-9_.,:/@%+=\-{}()!<>[\]^*~|?]+$/;

function line(...words: readonly (string | number)[]): HaproxyLine {
  return { words: words.map(String) };
}

function renderWord(word: string, where: string): string {
  if (PLAIN_WORD.test(word)) return word;
  if (word.length === 0 || /['\r\n\0]/.test(word)) {
    throw new Error(`${where}: word ${JSON.stringify(word)}; expected a non-empty word without quote, line break or NUL`);
  }
  // Single quotes: HAProxy takes everything up to the next single quote literally.
  return `'${word}'`;
}

/** Renders haproxy.cfg from its sections. Throws if a word cannot be written safely. */
export function renderHaproxyConfig(sections: readonly HaproxySection[]): string {
  const out: string[] = [];
  for (const s of sections) {
    const where = `haproxy.cfg ${s.kind}${s.name ? ` ${s.name}` : ""}`;
    const named = s.kind === HaproxySectionKind.FRONTEND || s.kind === HaproxySectionKind.BACKEND;
    if (named && (!s.name || !/^[A-Za-z0-9_.:-]+$/.test(s.name))) throw new Error(`${where}: name ${JSON.stringify(s.name)}; expected letters, digits, '_', '.', ':', '-'`);
    out.push(s.name ? `${s.kind} ${s.name}` : s.kind);
    for (const l of s.lines) {
      if (l.words.length === 0) throw new Error(`${where}: an empty line; expected at least a keyword`);
      out.push(`    ${l.words.map((w) => renderWord(w, where)).join(" ")}`);
    }
    out.push("");
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Routes

/** A public route: requests for `host` (and under `pathPrefix`) go to `service`. */
export interface IngressRoute {
  /** Consul service name of the destination. */
  readonly service: string;
  /** Host name matched (case-insensitive, without port), e.g. `api.example.org`. */
  readonly host: string;
  /** Path prefix matched, on whole segments (`/api` matches `/api` and `/api/x`, not `/apix`). @default "/" */
  readonly pathPrefix?: string;
  /** Path HAProxy checks through the mesh (the service's own health path). @default "/health" */
  readonly healthPath?: string;
}

/** The public routes of the specs (`port.public`), sorted by service, host and path. */
export function routesFrom(specs: readonly WorkloadSpec[]): IngressRoute[] {
  const routes: IngressRoute[] = [];
  for (const s of specs) {
    const pub = s.port?.public;
    if (!pub) continue;
    routes.push({ service: s.name, host: pub.host, ...(pub.pathPrefix !== undefined ? { pathPrefix: pub.pathPrefix } : {}), healthPath: s.port?.healthPath ?? "/health" });
  }
  return routes.sort((a, b) => a.service.localeCompare(b.service) || a.host.localeCompare(b.host) || (a.pathPrefix ?? "/").localeCompare(b.pathPrefix ?? "/"));
}

/** A route as HAProxy serves it: normalized, with its backend and the upstream's local port. */
export interface ResolvedRoute {
  readonly service: string;
  /** Lower-case host. */
  readonly host: string;
  /** Normalized prefix: "/" or a path without trailing slash. */
  readonly pathPrefix: string;
  readonly healthPath: string;
  /** Backend name in haproxy.cfg. */
  readonly backend: string;
  /** Port on 127.0.0.1 where the service's upstream listens. */
  readonly localPort: number;
}

// ---------------------------------------------------------------------------------------------
// The ingress

/** HAProxy's timeouts. */
export interface HaproxyTimeouts {
  /** Connecting to a server (here the local sidecar). @default Duration.seconds(5) */
  readonly connect?: Duration;
  /** Client inactivity. @default Duration.seconds(30) */
  readonly client?: Duration;
  /** Server inactivity. @default Duration.seconds(30) */
  readonly server?: Duration;
  /** Receiving a whole request's headers (slowloris). @default Duration.seconds(10) */
  readonly httpRequest?: Duration;
  /** Waiting for the next request on a kept-alive connection. @default Duration.seconds(10) */
  readonly httpKeepAlive?: Duration;
  /** Waiting in the queue for a free connection slot. @default Duration.seconds(30) */
  readonly queue?: Duration;
  /** WebSocket and other tunnels. @default Duration.hours(1) */
  readonly tunnel?: Duration;
  /** A health check's answer. @default Duration.seconds(5) */
  readonly check?: Duration;
}

/** Props of {@link Ingress.spec} and {@link Ingress.haproxyConfig}. */
export interface IngressProps {
  /** The public routes (see {@link routesFrom}). */
  readonly routes: readonly IngressRoute[];
  /** Job id and Consul service name; the certificate is read from `nomad/jobs/<name>`. @default Ingress.DEFAULT_NAME ("ingress") */
  readonly name?: string;
  /** @default Ingress.DEFAULT_IMAGE ("haproxy", the official Debian-based image) */
  readonly image?: string;
  /** Image tag, pinned. @default Ingress.DEFAULT_VERSION */
  readonly version?: string;
  /** @default Ingress.DEFAULT_RESOURCES */
  readonly resources?: { readonly cpuMhz: number; readonly memoryMb: number };
  /** Node class of the ingress VMs; the job runs once on each of them (system job). @default Ingress.DEFAULT_NODE_CLASS ("ingress") */
  readonly nodeClass?: string;
  /** Port of the health, stats and metrics frontend (the ingress's own service port). @default Ingress.DEFAULT_STATS_PORT (8404) */
  readonly statsPort?: number;
  /** First local port given to the upstreams, in service name order. @default Ingress.DEFAULT_LOCAL_PORT_BASE (10000) */
  readonly localPortBase?: number;
  /** @default Ingress.DEFAULT_TIMEOUTS */
  readonly timeouts?: HaproxyTimeouts;
  /** Connections HAProxy accepts at once. @default Ingress.DEFAULT_MAX_CONNECTIONS (4096) */
  readonly maxConnections?: number;
  /** Path of the PEM file (certificate chain, then key) in the container. @default Ingress.DEFAULT_CERTIFICATE_PATH */
  readonly certificatePath?: string;
}

/** A generated haproxy.cfg and what it is made of. */
export interface HaproxyConfig {
  /** Routes in the order HAProxy tries them (longest path prefix first). */
  readonly routes: readonly ResolvedRoute[];
  /** Upstreams of the ingress's sidecar, one per service, in service name order. */
  readonly upstreams: readonly Dependency[];
  readonly sections: readonly HaproxySection[];
  /** The rendered file. */
  readonly text: string;
}

const HOST = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const PATH_SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/;
const SERVICE = /^[a-z][a-z0-9-]{0,62}$/;

function pathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "a path starting with '/'";
  if (path === "/") return undefined;
  const segments = path.replace(/\/$/, "").slice(1).split("/");
  for (const seg of segments) {
    if (seg === "") return "no empty segment ('//')";
    if (seg === "." || seg === "..") return "no '.' or '..' segment";
    if (!PATH_SEGMENT.test(seg) || /['"]/.test(seg)) return "only unreserved URL characters in segments (no space, quote, '?', '#')";
  }
  return undefined;
}

function normalizePrefix(path: string): string {
  return path === "/" ? "/" : path.replace(/\/$/, "");
}

function portOk(p: number): boolean {
  return Number.isInteger(p) && p >= 1 && p <= 65535;
}

function durationWord(d: Duration): string {
  const ms = Math.round(d.toMilliseconds());
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * The public HTTP(S) entry. `Ingress.spec(props)` is the workload; `Ingress.haproxyConfig(props)`
 * the haproxy.cfg it runs with (the real tests check it with `haproxy -c`).
 */
export class Ingress {
  static readonly DEFAULT_NAME = "ingress";
  static readonly DEFAULT_IMAGE = "haproxy";
  /** HAProxy 3.2, the current LTS branch (Debian-based official image). */
  static readonly DEFAULT_VERSION = "3.2.22";
  static readonly DEFAULT_RESOURCES = { cpuMhz: 500, memoryMb: 256 } as const;
  static readonly DEFAULT_NODE_CLASS = NODE_CLASSES.ingress;
  static readonly HTTP_PORT = 80;
  static readonly HTTPS_PORT = 443;
  /** Ports HAProxy binds inside the allocation (unprivileged); the host's 80 and 443 map to them. */
  static readonly CONTAINER_HTTP_PORT = 8080;
  static readonly CONTAINER_HTTPS_PORT = 8443;
  static readonly DEFAULT_STATS_PORT = 8404;
  static readonly DEFAULT_LOCAL_PORT_BASE = 10000;
  static readonly DEFAULT_MAX_CONNECTIONS = 4096;
  /** The task's secrets folder as the Docker driver mounts it. */
  static readonly SECRETS_DIR = "/secrets/";
  /** The certificate in the task's secrets folder. */
  static readonly DEFAULT_CERTIFICATE_PATH = "/secrets/ingress.pem";
  /** The configuration in the task's local folder. */
  static readonly CONFIG_PATH = "/local/haproxy.cfg";
  static readonly DEFAULT_TIMEOUTS: Required<HaproxyTimeouts> = {
    connect: Duration.seconds(5),
    client: Duration.seconds(30),
    server: Duration.seconds(30),
    httpRequest: Duration.seconds(10),
    httpKeepAlive: Duration.seconds(10),
    queue: Duration.seconds(30),
    tunnel: Duration.hours(1),
    check: Duration.seconds(5),
  };
  /** Keys of the Nomad variable `nomad/jobs/<name>`: the PEM certificate chain and its private key. */
  static readonly CERTIFICATE_KEY = "ingress_tls_certificate";
  static readonly PRIVATE_KEY_KEY = "ingress_tls_private_key";
  /** Health path of the stats frontend (HAProxy's monitor URI: 200 while the process runs). */
  static readonly HEALTH_PATH = "/health";
  static readonly METRICS_PATH = "/metrics";
  static readonly STATS_PATH = "/stats";

  /** Problems of the props; empty when they hold. */
  static problems(props: IngressProps): string[] {
    const problems: string[] = [];
    const name = props.name ?? Ingress.DEFAULT_NAME;
    const at = `ingress "${name}"`;
    if (!SERVICE.test(name)) problems.push(`${at}: name: received ${describeValue(name)}; expected lower-case letters, digits and dashes, starting with a letter`);
    const statsPort = props.statsPort ?? Ingress.DEFAULT_STATS_PORT;
    if (!portOk(statsPort) || statsPort === Ingress.CONTAINER_HTTP_PORT || statsPort === Ingress.CONTAINER_HTTPS_PORT) {
      problems.push(`${at}: statsPort: received ${describeValue(statsPort)}; expected a port in 1-65535 other than ${Ingress.CONTAINER_HTTP_PORT} and ${Ingress.CONTAINER_HTTPS_PORT}`);
    }
    const max = props.maxConnections ?? Ingress.DEFAULT_MAX_CONNECTIONS;
    if (!Number.isInteger(max) || max < 1) problems.push(`${at}: maxConnections: received ${describeValue(max)}; expected a whole number >= 1`);
    for (const [k, d] of Object.entries(props.timeouts ?? {})) {
      if (d !== undefined && (!(d instanceof Duration) || d.toMilliseconds() < 1)) problems.push(`${at}: timeouts.${k}: received ${describeValue(d)}; expected a Duration of at least 1 ms`);
    }
    const crt = props.certificatePath ?? Ingress.DEFAULT_CERTIFICATE_PATH;
    if (!/^\/[A-Za-z0-9_.\-/]+$/.test(crt)) problems.push(`${at}: certificatePath: received ${describeValue(crt)}; expected an absolute path of letters, digits, '_', '.', '-', '/'`);
    const r = props.resources ?? Ingress.DEFAULT_RESOURCES;
    if (!Number.isInteger(r.cpuMhz) || r.cpuMhz < 1 || !Number.isInteger(r.memoryMb) || r.memoryMb < 10) {
      problems.push(`${at}: resources: received ${describeValue(r)}; expected whole numbers, cpuMhz >= 1 and memoryMb >= 10`);
    }
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(props.version ?? Ingress.DEFAULT_VERSION) || props.version === "latest") {
      problems.push(`${at}: version: received ${describeValue(props.version)}; expected a pinned image tag such as "${Ingress.DEFAULT_VERSION}"`);
    }

    const seen = new Map<string, number>();
    props.routes.forEach((route, i) => {
      const rat = `${at}: routes[${i}]`;
      if (!SERVICE.test(route.service)) problems.push(`${rat}.service: received ${describeValue(route.service)}; expected a Consul service name (lower-case letters, digits, dashes)`);
      if (route.service === name) problems.push(`${rat}.service: received ${describeValue(route.service)}; expected another service than the ingress itself`);
      if (route.host.trim() === "") problems.push(`${rat}.host: received ${describeValue(route.host)}; expected a host name such as "api.example.org", not an empty one`);
      else if (!HOST.test(route.host.toLowerCase())) problems.push(`${rat}.host: received ${describeValue(route.host)}; expected a DNS host name (letters, digits, dashes, dots; no port, scheme or wildcard)`);
      const prefix = route.pathPrefix ?? "/";
      const bad = pathProblem(prefix);
      if (bad) problems.push(`${rat}.pathPrefix: received ${describeValue(prefix)}; expected ${bad}`);
      const health = route.healthPath ?? "/health";
      const badHealth = pathProblem(health);
      if (badHealth) problems.push(`${rat}.healthPath: received ${describeValue(health)}; expected ${badHealth}`);
      const key = `${route.host.toLowerCase()}${normalizePrefix(prefix)}`;
      const prev = seen.get(key);
      if (prev !== undefined) problems.push(`${rat}: host and path ${key} also routed by routes[${prev}] (${props.routes[prev].service}); expected one route per host and path prefix`);
      else seen.set(key, i);
    });

    const base = props.localPortBase ?? Ingress.DEFAULT_LOCAL_PORT_BASE;
    const services = [...new Set(props.routes.map((r) => r.service))].sort();
    if (!Number.isInteger(base) || base < 1024 || base > 65535) {
      problems.push(`${at}: localPortBase: received ${describeValue(base)}; expected a whole number in 1024-65535`);
    } else {
      const reserved = new Map<number, string>([
        [Ingress.CONTAINER_HTTP_PORT, "the HTTP port"],
        [Ingress.CONTAINER_HTTPS_PORT, "the HTTPS port"],
        [statsPort, "the stats port"],
      ]);
      services.forEach((service, i) => {
        const port = base + i;
        if (port > 65535) problems.push(`${at}: local port of ${service}: ${port} is above 65535; expected localPortBase + ${services.length} services to fit`);
        else if (reserved.has(port)) problems.push(`${at}: local port of ${service}: ${port} collides with ${reserved.get(port)}; expected a localPortBase whose ${services.length} ports avoid ${[...reserved.keys()].join(", ")}`);
        else if (port >= CLUSTER_PORTS.dynamicMin && port <= CLUSTER_PORTS.dynamicMax) {
          problems.push(`${at}: local port of ${service}: ${port} is in Nomad's dynamic range ${CLUSTER_PORTS.dynamicMin}-${CLUSTER_PORTS.dynamicMax} (the sidecar's own listener may get it); expected a localPortBase whose ${services.length} ports stay outside it`);
        }
      });
    }
    return problems;
  }

  /** The routes, normalized, with backends and local ports, in HAProxy's match order. */
  static resolve(props: IngressProps): { routes: ResolvedRoute[]; upstreams: Dependency[] } {
    const base = props.localPortBase ?? Ingress.DEFAULT_LOCAL_PORT_BASE;
    const services = [...new Set(props.routes.map((r) => r.service))].sort();
    const localPort = new Map(services.map((s, i) => [s, base + i]));
    const normalized = props.routes.map((r) => ({ service: r.service, host: r.host.toLowerCase(), pathPrefix: normalizePrefix(r.pathPrefix ?? "/"), healthPath: r.healthPath ?? "/health" }));
    // Backend names: the service, and an index when it has several routes (in host, path order).
    const byService = new Map<string, typeof normalized>();
    for (const r of normalized) byService.set(r.service, [...(byService.get(r.service) ?? []), r]);
    const backendOf = new Map<(typeof normalized)[number], string>();
    for (const [service, list] of byService) {
      const sorted = [...list].sort((a, b) => a.host.localeCompare(b.host) || a.pathPrefix.localeCompare(b.pathPrefix));
      sorted.forEach((r, i) => backendOf.set(r, sorted.length === 1 ? `be_${service}` : `be_${service}_${i}`));
    }
    const routes = normalized
      .map((r) => ({ ...r, backend: backendOf.get(r) as string, localPort: localPort.get(r.service) as number }))
      .sort((a, b) => b.pathPrefix.length - a.pathPrefix.length || a.host.localeCompare(b.host) || a.pathPrefix.localeCompare(b.pathPrefix));
    return { routes, upstreams: services.map((service) => ({ service, localPort: localPort.get(service) as number })) };
  }

  /** haproxy.cfg for the routes. Throws {@link ProblemsError} listing every problem of the props. */
  static haproxyConfig(props: IngressProps): HaproxyConfig {
    const problems = Ingress.problems(props);
    if (problems.length > 0) throw new ProblemsError(problems);
    const { routes, upstreams } = Ingress.resolve(props);
    const t = { ...Ingress.DEFAULT_TIMEOUTS, ...Object.fromEntries(Object.entries(props.timeouts ?? {}).filter(([, v]) => v !== undefined)) } as Required<HaproxyTimeouts>;
    const statsPort = props.statsPort ?? Ingress.DEFAULT_STATS_PORT;

    const global: HaproxySection = {
      kind: HaproxySectionKind.GLOBAL,
      lines: [
        line("log", "stdout", "format", "raw", "local0"),
        line("maxconn", props.maxConnections ?? Ingress.DEFAULT_MAX_CONNECTIONS),
        line("ssl-default-bind-options", "ssl-min-ver", "TLSv1.2", "no-tls-tickets"),
        line("ssl-default-bind-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"),
        line("ssl-default-bind-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"),
      ],
    };
    const defaults: HaproxySection = {
      kind: HaproxySectionKind.DEFAULTS,
      lines: [
        line("mode", "http"),
        line("log", "global"),
        line("option", "httplog"),
        line("option", "dontlognull"),
        line("option", "redispatch"),
        line("retries", 2),
        line("timeout", "connect", durationWord(t.connect)),
        line("timeout", "client", durationWord(t.client)),
        line("timeout", "server", durationWord(t.server)),
        line("timeout", "http-request", durationWord(t.httpRequest)),
        line("timeout", "http-keep-alive", durationWord(t.httpKeepAlive)),
        line("timeout", "queue", durationWord(t.queue)),
        line("timeout", "tunnel", durationWord(t.tunnel)),
        line("timeout", "check", durationWord(t.check)),
      ],
    };
    const http: HaproxySection = {
      kind: HaproxySectionKind.FRONTEND,
      name: "http",
      lines: [line("bind", `:${Ingress.CONTAINER_HTTP_PORT}`), line("http-request", "redirect", "scheme", "https", "code", 301)],
    };
    // One ACL per host and per path prefix; use_backend in match order (longest prefix first).
    const hosts = [...new Set(routes.map((r) => r.host))].sort();
    const hostAcl = new Map(hosts.map((h, i) => [h, `host_${i}`]));
    const prefixes = [...new Set(routes.map((r) => r.pathPrefix).filter((p) => p !== "/"))].sort();
    const pathAcl = new Map(prefixes.map((p, i) => [p, `path_${i}`]));
    const https: HaproxySection = {
      kind: HaproxySectionKind.FRONTEND,
      name: "https",
      lines: [
        line("bind", `:${Ingress.CONTAINER_HTTPS_PORT}`, "ssl", "crt", props.certificatePath ?? Ingress.DEFAULT_CERTIFICATE_PATH, "alpn", "h2,http/1.1"),
        line("option", "forwardfor"),
        line("http-request", "set-header", "X-Forwarded-Proto", "https"),
        line("http-request", "set-var(txn.host)", "req.hdr(host),field(1,:),lower"),
        ...hosts.map((h) => line("acl", hostAcl.get(h) as string, "var(txn.host)", "-m", "str", h)),
        ...prefixes.flatMap((p) => [line("acl", pathAcl.get(p) as string, "path", "-m", "str", p), line("acl", pathAcl.get(p) as string, "path", "-m", "beg", `${p}/`)]),
        ...routes.map((r) => line("use_backend", r.backend, "if", hostAcl.get(r.host) as string, ...(r.pathPrefix === "/" ? [] : [pathAcl.get(r.pathPrefix) as string]))),
        line("default_backend", "no_route"),
      ],
    };
    const stats: HaproxySection = {
      kind: HaproxySectionKind.FRONTEND,
      name: "stats",
      lines: [
        line("bind", `:${statsPort}`),
        line("http-request", "set-log-level", "silent"),
        line("monitor-uri", Ingress.HEALTH_PATH),
        line("http-request", "use-service", "prometheus-exporter", "if", "{", "path", Ingress.METRICS_PATH, "}"),
        line("stats", "enable"),
        line("stats", "uri", Ingress.STATS_PATH),
        line("stats", "refresh", "10s"),
      ],
    };
    const backends: HaproxySection[] = [...routes]
      .sort((a, b) => a.backend.localeCompare(b.backend))
      .map((r) => ({
        kind: HaproxySectionKind.BACKEND,
        name: r.backend,
        lines: [
          line("option", "httpchk"),
          line("http-check", "send", "meth", "GET", "uri", r.healthPath, "ver", "HTTP/1.1", "hdr", "Host", r.host),
          line("http-check", "expect", "status", "200-399"),
          // A failed first check marks the server down at once; downinter brings it back within seconds.
          line("server", r.service, `127.0.0.1:${r.localPort}`, "check", "inter", "5s", "fastinter", "1s", "downinter", "2s", "fall", 3, "rise", 2),
        ],
      }));
    const noRoute: HaproxySection = {
      kind: HaproxySectionKind.BACKEND,
      name: "no_route",
      lines: [line("http-request", "return", "status", 404, "content-type", "text/plain", "string", "no route")],
    };
    const sections = [global, defaults, http, https, stats, ...backends, noRoute];
    const text = renderHaproxyConfig(sections);
    return { routes, upstreams, sections, text };
  }

  /**
   * The ingress workload: HAProxy on every ingress node (system job), host ports 80 and 443 open to
   * anywhere, its stats port as its service (HTTP check on /health, metrics on /metrics), one
   * upstream per routed service, haproxy.cfg and the certificate as templates.
   *
   * HAProxy's image runs as an unprivileged user, and the allocation's network namespace is made
   * by Nomad (not Docker), so privileged ports cannot be assumed: it binds 8080 and 8443 inside,
   * and the host's 80 and 443 map to them.
   */
  static spec(props: IngressProps): WorkloadSpec {
    const name = props.name ?? Ingress.DEFAULT_NAME;
    const certificatePath = props.certificatePath ?? Ingress.DEFAULT_CERTIFICATE_PATH;
    if (!certificatePath.startsWith(Ingress.SECRETS_DIR)) {
      throw new ProblemsError([`ingress "${name}": certificatePath: received ${describeValue(certificatePath)}; expected a file under ${Ingress.SECRETS_DIR} (the task's secrets folder, where the template writes it)`]);
    }
    const config = Ingress.haproxyConfig(props);
    if (config.text.includes("{{")) throw new ProblemsError([`ingress "${name}": haproxy.cfg contains "{{"; expected no template action in a static file`]);
    return {
      name,
      description: "Public HTTP(S) entry: HAProxy terminating TLS and routing to the services through the Connect mesh",
      image: props.image ?? Ingress.DEFAULT_IMAGE,
      version: props.version ?? Ingress.DEFAULT_VERSION,
      resources: { ...(props.resources ?? Ingress.DEFAULT_RESOURCES) },
      kind: WorkloadKind.SYSTEM,
      nodeClass: props.nodeClass ?? Ingress.DEFAULT_NODE_CLASS,
      port: {
        containerPort: props.statsPort ?? Ingress.DEFAULT_STATS_PORT,
        protocol: ServiceProtocol.HTTP,
        healthPath: Ingress.HEALTH_PATH,
        metricsPath: Ingress.METRICS_PATH,
      },
      hostPorts: [
        { label: "http", port: Ingress.HTTP_PORT, to: Ingress.CONTAINER_HTTP_PORT, from: "anywhere" },
        { label: "https", port: Ingress.HTTPS_PORT, to: Ingress.CONTAINER_HTTPS_PORT, from: "anywhere" },
      ],
      dependsOn: config.upstreams,
      // The official image's entrypoint runs `haproxy -W -db <args>` (master-worker, foreground).
      args: ["-f", Ingress.CONFIG_PATH],
      files: [
        { destination: `local/${Ingress.CONFIG_PATH.split("/").pop()}`, content: config.text },
        secretFile({
          destination: `secrets/${certificatePath.slice(Ingress.SECRETS_DIR.length)}`,
          path: jobVariablePath(name),
          keys: [
            { key: Ingress.CERTIFICATE_KEY, source: Secret.ingressCertificate() },
            { key: Ingress.PRIVATE_KEY_KEY, source: Secret.ingressPrivateKey() },
          ],
          // The master reloads its workers on SIGUSR2: a renewed certificate without dropped connections.
          changeSignal: "SIGUSR2",
        }),
      ],
    };
  }
}
