/**
 * Real tier of the shared services (ingress, data services, backups):
 *
 * - `haproxy -c` accepts the haproxy.cfg rendered for a realistic set of routes (the four
 *   reference systems), with a real certificate made by openssl at the crt path, without a warning;
 *   it rejects a config whose certificate is missing, one that uses an unknown backend and one with
 *   a broken line (negative controls);
 * - HAProxy really runs that config in a network namespace of its own (ports 8080, 8443, 8404: the host's 80 and 443 map to the first two), in
 *   front of one small HTTP server per upstream local port: HTTP redirects to HTTPS, TLS with ALPN
 *   h2 and the CA-verified certificate, each host and path reaches its service (longest prefix
 *   first, on whole segments), unknown hosts get 404, and the stats frontend answers health and
 *   Prometheus metrics;
 * - `nomad job validate -json` accepts the job of every spec (ingress, data services, backups),
 *   and rejects a broken one;
 * - `sh -n` (dash, Debian's /bin/sh) parses every backup script, and rejects a broken one;
 * - the Consul backup script runs for real: `consul snapshot save` against a Consul dev agent,
 *   then curl uploads the snapshot to an HTTPS S3 stand-in that checks the AWS Signature V4 of the
 *   PUT; the stored object is a snapshot `consul snapshot inspect` reads. With a wrong secret key,
 *   the upload is refused and the script fails.
 *
 * Runs only with REAL_TESTS=1. A missing tool fails the suite, it never skips it. Debian packages:
 * haproxy, curl, openssl, iproute2, dash; plus the toolchain's nomad and consul.
 */
import { ChildProcess, spawn } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { ServiceProtocol } from "../../constructs/consul/mesh";
import { Backups, BackupTarget } from "../../constructs/workloads/backups";
import { dataServices } from "../../constructs/workloads/data";
import { HaproxySectionKind, Ingress, renderHaproxyConfig, routesFrom } from "../../constructs/workloads/ingress";
import { WorkloadSpec } from "../../constructs/workloads/spec";
import { workloadJob } from "../../constructs/workloads/workload";
import { createCa, describeRun, issueCert, makeTempDir, removeDir, requireRoot, requireTool, run, RunResult, TestCa, writeFile, freePort, sleep } from "./real-helpers";
import { BOOTSTRAP_SCRIPT, FEDERATION_KEEPER_SCRIPT } from "../../cloud-init/role-configs";

const d = process.env.REAL_TESTS === "1" ? describe : describe.skip;

// ---------------------------------------------------------------------------------------------
// A realistic site: the public services of the four reference systems.

function service(name: string, host: string, pathPrefix?: string, healthPath?: string): WorkloadSpec {
  return {
    name,
    description: name,
    image: `registry.example.org/${name}`,
    version: "1.0.0",
    resources: { cpuMhz: 200, memoryMb: 128 },
    port: { containerPort: 8080, protocol: ServiceProtocol.HTTP, ...(healthPath ? { healthPath } : {}), public: { host, ...(pathPrefix ? { pathPrefix } : {}) } },
  };
}

const publicServices: WorkloadSpec[] = [
  service("fleet-web", "fleet.example.org"),
  service("fleet-staff-api", "fleet.example.org", "/api"),
  service("fleet-ingest", "ingest.fleet.example.org", "/", "/ready"),
  service("fleet-ingest-v2", "ingest.fleet.example.org", "/v2/"),
  service("paas-api", "paas.example.org", "/v1"),
  service("images-frontend", "images.example.org"),
  service("images-backend", "images.example.org", "/api/images"),
  service("community-wiki", "wiki.example.org"),
];
const routes = routesFrom(publicServices);
const hosts = [...new Set(routes.map((r) => r.host))];

const CA_PLACEHOLDER = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

function backupSpecs(caPem: string): WorkloadSpec[] {
  return Backups.specs({
    destination: { endpoint: "https://s3.backup.example.org", bucket: "platform-backups", region: "us-east-1", prefix: "primary" },
    clusterCaPem: caPem,
    targets: [
      BackupTarget.consul(),
      BackupTarget.nomad(),
      BackupTarget.postgres({ image: { image: "registry.example.org/pg-backup", version: "17.8-1" } }),
      BackupTarget.postgres({ image: { image: "registry.example.org/pg-backup", version: "17.8-1" }, service: "fleet-db", databases: ["fleet", "staff"] }),
      BackupTarget.mariadb({ image: { image: "registry.example.org/mariadb-backup", version: "11.4.13-1" } }),
      BackupTarget.influxdb(),
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers


/** Resolves true when the child has exited, false after `ms` (the timer does not outlive the wait). */
function exitWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      child.off("exit", onExit);
      resolve(false);
    }, ms);
    child.once("exit", onExit);
  });
}

/** Like `run`, without blocking the event loop (for commands talking to servers of this process). */
function runAsync(cmd: string, args: readonly string[], env: Readonly<Record<string, string>>, timeoutMs = 60_000): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += String(b)));
    child.stderr.on("data", (b) => (stderr += String(b)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ command: [cmd, ...args].join(" "), status, signal, stdout, stderr, output: stdout + stderr, durationMs: Date.now() - started });
    });
  });
}

/** Stops a child this test started, by its handle. */
async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  if (await exitWithin(child, 5_000)) return;
  child.kill("SIGKILL");
  await exitWithin(child, 5_000);
}

function expectValidHaproxy(r: RunResult): void {
  if (r.status !== 0 || !/Configuration file is valid/.test(r.output) || /\[(WARNING|ALERT)\]/.test(r.output)) throw new Error(`haproxy -c did not accept the config cleanly:\n${describeRun(r)}`);
}

// ---------------------------------------------------------------------------------------------

d("HAProxy checks and runs the ingress's haproxy.cfg", () => {
  let dir: string;
  let ca: TestCa;
  let crtPath: string;
  let cfgText: string;

  beforeAll(() => {
    requireTool("haproxy");
    requireTool("openssl");
    dir = makeTempDir("real-ingress");
    ca = createCa(path.join(dir, "ca"), "ingress test CA");
    const cert = issueCert(ca, { dnsNames: hosts });
    // What the template writes: the certificate chain, then the key.
    crtPath = writeFile(dir, "secrets/ingress.pem", `${cert.certPem.trim()}\n${cert.keyPem.trim()}\n`, 0o600);
    cfgText = Ingress.haproxyConfig({ routes, certificatePath: crtPath }).text;
  });

  afterAll(() => removeDir(dir));

  test("haproxy -c accepts the rendered config for the reference systems' routes, without a warning", () => {
    const cfg = writeFile(dir, "haproxy.cfg", cfgText);
    expectValidHaproxy(run("haproxy", ["-c", "-f", cfg]));
    // The workload's file is the same text, only the certificate path differs.
    const spec = Ingress.spec({ routes });
    const inJob = spec.files?.find((f) => f.destination === "local/haproxy.cfg")?.content;
    expect(inJob).toBe(cfgText.replace(crtPath, Ingress.DEFAULT_CERTIFICATE_PATH));
  });

  test("negative controls: a missing certificate, an unknown backend, a broken line", () => {
    const missing = writeFile(dir, "missing-crt.cfg", Ingress.haproxyConfig({ routes, certificatePath: path.join(dir, "nope.pem") }).text);
    const r1 = run("haproxy", ["-c", "-f", missing]);
    expect(r1.status).not.toBe(0);
    expect(r1.output).toMatch(/nope\.pem/);

    const sections = Ingress.haproxyConfig({ routes, certificatePath: crtPath }).sections.map((s) =>
      s.name === "https" && s.kind === HaproxySectionKind.FRONTEND ? { ...s, lines: [...s.lines, { words: ["use_backend", "be_missing", "if", "host_0"] }] } : s,
    );
    const unknown = writeFile(dir, "unknown-backend.cfg", renderHaproxyConfig(sections));
    const r2 = run("haproxy", ["-c", "-f", unknown]);
    expect(r2.status).not.toBe(0);
    expect(r2.output).toMatch(/be_missing/);

    const broken = writeFile(dir, "broken.cfg", cfgText.replace("timeout connect 5s", "timeout connect five"));
    const r3 = run("haproxy", ["-c", "-f", broken]);
    expect(r3.status).not.toBe(0);
    expect(r3.output).toMatch(/timeout/);
  });

  describe("in a network namespace, in front of the upstreams' local ports", () => {
    const ns = `ingress${process.pid}`;
    let nsCreated = false;
    const children: ChildProcess[] = [];
    let haproxyLog = "";

    const inNs = (cmd: string, args: readonly string[]) => run("ip", ["netns", "exec", ns, cmd, ...args], { timeoutMs: 20_000 });
    /** curl inside the namespace; returns [status line info, body]. */
    const curl = (args: readonly string[]) => {
      const r = inNs("curl", ["--silent", "--show-error", "--max-time", "10", ...args]);
      if (r.status !== 0) throw new Error(`curl failed:\n${describeRun(r)}\n--- haproxy log\n${haproxyLog}`);
      return r.stdout;
    };
    const get = (host: string, urlPath: string) =>
      curl(["--cacert", ca.certFile, "--resolve", `${host}:8443:127.0.0.1`, "--write-out", "\n%{http_code} %{http_version}", `https://${host}:8443${urlPath}`]);

    beforeAll(async () => {
      requireRoot("running HAProxy in a network namespace");
      for (const tool of ["ip", "curl"]) requireTool(tool);
      const r = run("ip", ["netns", "add", ns]);
      if (r.status !== 0) throw new Error(describeRun(r));
      nsCreated = true;
      const lo = run("ip", ["-n", ns, "link", "set", "lo", "up"]);
      if (lo.status !== 0) throw new Error(describeRun(lo));

      // One HTTP server per upstream local port, answering with its service's name.
      const server = writeFile(
        dir,
        "upstream.js",
        [
          "const http = require('node:http');",
          "const [port, name] = process.argv.slice(2);",
          "http.createServer((req, res) => {",
          "  res.setHeader('content-type', 'text/plain');",
          "  res.end(`${name} ${req.url} proto=${req.headers['x-forwarded-proto']} for=${req.headers['x-forwarded-for']}`);",
          "}).listen(Number(port), '127.0.0.1');",
          "",
        ].join("\n"),
      );
      const { upstreams } = Ingress.resolve({ routes });
      for (const u of upstreams) {
        children.push(spawn("ip", ["netns", "exec", ns, process.execPath, server, String(u.localPort), u.service], { stdio: "ignore" }));
      }
      const cfg = writeFile(dir, "live.cfg", cfgText);
      const proc = spawn("ip", ["netns", "exec", ns, "haproxy", "-db", "-f", cfg], { stdio: ["ignore", "pipe", "pipe"] });
      proc.stdout?.on("data", (b) => (haproxyLog += String(b)));
      proc.stderr?.on("data", (b) => (haproxyLog += String(b)));
      children.push(proc);

      const deadline = Date.now() + 20_000;
      for (;;) {
        const health = inNs("curl", ["--silent", "--output", "/dev/null", "--write-out", "%{http_code}", "http://127.0.0.1:8404/health"]);
        const up = upstreams.every((u) => inNs("curl", ["--silent", "--output", "/dev/null", `http://127.0.0.1:${u.localPort}/`]).status === 0);
        if (health.stdout === "200" && up) break;
        if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`HAProxy or the upstreams did not come up (health ${health.stdout}, upstreams ${up}); log:\n${haproxyLog}`);
        await sleep(200);
      }
      // HAProxy may have checked an upstream before it listened: wait until its checks see every server up.
      const checksDeadline = Date.now() + 30_000;
      for (;;) {
        const csv = inNs("curl", ["--silent", "http://127.0.0.1:8404/stats;csv"]).stdout;
        const servers = csv.split("\n").filter((l) => l.startsWith("be_") && !l.includes(",BACKEND,"));
        if (servers.length === upstreams.length && servers.every((l) => l.split(",")[17].startsWith("UP"))) break;
        if (Date.now() > checksDeadline) throw new Error(`HAProxy's checks did not see every upstream up:\n${servers.join("\n")}\n--- log\n${haproxyLog}`);
        await sleep(250);
      }
    }, 60_000);

    afterAll(async () => {
      for (const c of children) await stop(c);
      if (nsCreated) run("ip", ["netns", "del", ns]);
    }, 30_000);

    test("HTTP redirects to HTTPS, keeping host, path and query", () => {
      const out = curl(["--output", "/dev/null", "--write-out", "%{http_code} %{redirect_url}", "--header", "Host: fleet.example.org", "http://127.0.0.1:8080/api/vehicles?page=2"]);
      expect(out).toBe("301 https://fleet.example.org/api/vehicles?page=2");
    });

    test("each host and path reaches its service, longest prefix first, on whole segments; TLS with h2 and the CA-verified certificate", () => {
      const cases: Array<[string, string, string]> = [
        ["fleet.example.org", "/", "fleet-web"],
        ["fleet.example.org", "/api", "fleet-staff-api"],
        ["fleet.example.org", "/api/vehicles/12", "fleet-staff-api"],
        ["fleet.example.org", "/apiary", "fleet-web"],
        ["ingest.fleet.example.org", "/v1/positions", "fleet-ingest"],
        ["ingest.fleet.example.org", "/v2/positions", "fleet-ingest-v2"],
        ["ingest.fleet.example.org", "/v2", "fleet-ingest-v2"],
        ["paas.example.org", "/v1/leases", "paas-api"],
        ["images.example.org", "/api/images/42.png", "images-backend"],
        ["images.example.org", "/api/other", "images-frontend"],
        ["IMAGES.example.org", "/", "images-frontend"],
        ["wiki.example.org", "/Main_Page", "community-wiki"],
      ];
      for (const [host, urlPath, expected] of cases) {
        const out = get(host, urlPath);
        const [body, status] = out.split("\n");
        expect([host, urlPath, body.split(" ")[0], status]).toEqual([host, urlPath, expected, "200 2"]);
        expect(body).toContain(" proto=https for=127.0.0.1");
      }
    });

    test("a host without route gets 404", () => {
      const out = curl(["--insecure", "--resolve", "unknown.example.org:8443:127.0.0.1", "--write-out", "\n%{http_code}", "https://unknown.example.org:8443/"]);
      expect(out).toBe("no route\n404");
    });

    test("the stats frontend: health, Prometheus metrics, stats page", () => {
      expect(curl(["--output", "/dev/null", "--write-out", "%{http_code}", "http://127.0.0.1:8404/health"])).toBe("200");
      expect(curl(["http://127.0.0.1:8404/metrics"])).toMatch(/^haproxy_process_/m);
      expect(curl(["--output", "/dev/null", "--write-out", "%{http_code}", "http://127.0.0.1:8404/stats"])).toBe("200");
    });
  });
});

d("Nomad validates the job of every spec", () => {
  let dir: string;
  const specs = (): WorkloadSpec[] => [Ingress.spec({ routes }), ...dataServices(), ...backupSpecs(CA_PLACEHOLDER)];

  beforeAll(() => {
    requireTool("nomad");
    dir = makeTempDir("real-services-jobs");
  });
  afterAll(() => removeDir(dir));

  test.each(specs().map((s) => [s.name, s] as const))("nomad job validate accepts %s", (name, spec) => {
    const file = writeFile(dir, `${name}.json`, JSON.stringify(workloadJob(spec, ["dc1"]).toJson()));
    const r = run("nomad", ["job", "validate", "-json", file]);
    if (r.status !== 0 || !/Job validation successful/.test(r.output)) throw new Error(describeRun(r));
  });

  test("negative control: a broken schedule fails", () => {
    const job = workloadJob(backupSpecs(CA_PLACEHOLDER)[0], ["dc1"]).toJson() as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    job.Job.Periodic.Specs = ["99 2 * * *"];
    const r = run("nomad", ["job", "validate", "-json", writeFile(dir, "broken.json", JSON.stringify(job))]);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/Invalid cron spec "99 2 \* \* \*"/);
  });
});

d("the backup scripts", () => {
  let dir: string;

  beforeAll(() => {
    requireTool("dash");
    dir = makeTempDir("real-backup-scripts");
  });
  afterAll(() => removeDir(dir));

  test("dash parses every script (sh -n); a broken one fails", () => {
    for (const spec of backupSpecs(CA_PLACEHOLDER)) {
      const script = spec.files?.find((f) => f.destination === "local/backup.sh")?.content as string;
      const r = run("dash", ["-n", writeFile(dir, `${spec.name}.sh`, script)]);
      if (r.status !== 0) throw new Error(`${spec.name}:\n${describeRun(r)}`);
    }
    const broken = run("dash", ["-n", writeFile(dir, "broken.sh", "#!/bin/sh\necho 'unterminated\n")]);
    expect(broken.status).not.toBe(0);
  });

  test("dash parses the servers' scripts too: the ACL bootstrap and the Nomad federation keeper", () => {
    for (const [name, script] of Object.entries({ "platform-bootstrap": BOOTSTRAP_SCRIPT, "nomad-federation-keeper": FEDERATION_KEEPER_SCRIPT })) {
      const r = run("dash", ["-n", writeFile(dir, `${name}.sh`, script)]);
      if (r.status !== 0) throw new Error(`${name}:\n${describeRun(r)}`);
    }
  });

  describe("the Consul backup, run for real", () => {
    const ACCESS_KEY = "AKBACKUPTEST";
    const SECRET_KEY = "s3cretKeyForTheTest0123456789";
    const REGION = "us-east-1";
    let consul: ChildProcess | undefined;
    let consulAddr: string;
    let s3: https.Server | undefined;
    let s3Port: number;
    let ca: TestCa;
    let consulLog = "";
    const stored = new Map<string, Buffer>();
    const rejected: string[] = [];

    /** Checks an AWS Signature V4 the way S3 does, for a request with the unsigned-payload hash. */
    function signatureProblem(method: string, url: string, headers: Record<string, string | string[] | undefined>): string | undefined {
      const auth = String(headers.authorization ?? "");
      const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
      if (!m) return `authorization header ${JSON.stringify(auth)}`;
      const [, accessKey, date, region, signedHeaders, signature] = m;
      if (accessKey !== ACCESS_KEY) return `access key ${accessKey}`;
      if (region !== REGION) return `region ${region}`;
      const amzDate = String(headers["x-amz-date"] ?? "");
      const payloadHash = String(headers["x-amz-content-sha256"] ?? "");
      if (payloadHash !== "UNSIGNED-PAYLOAD") return `payload hash ${payloadHash}`;
      const names = signedHeaders.split(";");
      if (!names.includes("host") || !names.includes("x-amz-date") || !names.includes("x-amz-content-sha256")) return `signed headers ${signedHeaders}`;
      const [pathPart, query = ""] = url.split("?");
      const canonical = [method, pathPart, query, ...names.map((n) => `${n}:${String(headers[n] ?? "").trim()}`), "", signedHeaders, payloadHash].join("\n");
      const scope = `${date}/${region}/s3/aws4_request`;
      const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
      let key: Buffer = createHmac("sha256", `AWS4${SECRET_KEY}`).update(date).digest();
      for (const part of [region, "s3", "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
      const expected = createHmac("sha256", key).update(toSign).digest("hex");
      return expected === signature ? undefined : "signature mismatch";
    }

    beforeAll(async () => {
      for (const tool of ["consul", "curl", "openssl"]) requireTool(tool);
      ca = createCa(path.join(dir, "ca"), "s3 test CA");
      const cert = issueCert(ca, { dnsNames: ["s3.test"] });

      s3 = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const problem = req.method !== "PUT" ? `method ${req.method}` : signatureProblem(req.method, req.url ?? "", req.headers);
          if (problem) {
            rejected.push(`${req.method} ${req.url}: ${problem}`);
            res.writeHead(403, { "content-type": "application/xml" }).end("<Error><Code>SignatureDoesNotMatch</Code></Error>");
            return;
          }
          stored.set(req.url ?? "", Buffer.concat(chunks));
          res.writeHead(200, { etag: '"x"' }).end();
        });
      });
      s3Port = await freePort();
      await new Promise<void>((resolve) => s3?.listen(s3Port, "127.0.0.1", resolve));

      const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
      consulAddr = `http://127.0.0.1:${ports[0]}`;
      consul = spawn(
        "consul",
        ["agent", "-dev", "-bind=127.0.0.1", "-client=127.0.0.1", `-http-port=${ports[0]}`, "-dns-port=-1", "-grpc-port=-1", "-grpc-tls-port=-1", `-serf-lan-port=${ports[1]}`, `-serf-wan-port=${ports[2]}`, `-server-port=${ports[3]}`],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PATH: `${process.env.PATH}:${path.dirname(requireTool("consul"))}` } },
      );
      consul.stdout?.on("data", (b) => (consulLog += String(b)));
      consul.stderr?.on("data", (b) => (consulLog += String(b)));
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          const leader = await fetch(`${consulAddr}/v1/status/leader`).then((r) => r.text());
          if (/:\d+"$/.test(leader.trim())) break;
        } catch {
          /* not yet */
        }
        if (consul.exitCode !== null || Date.now() > deadline) throw new Error(`consul dev agent did not elect itself; log:\n${consulLog.slice(-3000)}`);
        await sleep(300);
      }
      const put = await fetch(`${consulAddr}/v1/kv/config/web/page_size`, { method: "PUT", body: "50" });
      if (!put.ok) throw new Error(`consul kv put: ${put.status}`);
    }, 90_000);

    afterAll(async () => {
      await stop(consul);
      await new Promise((r) => (s3 ? s3.close(r) : r(undefined)));
    }, 30_000);

    async function runBackup(secretKey: string, label: string): Promise<RunResult> {
      const [spec] = Backups.specs({
        destination: { endpoint: `https://127.0.0.1:${s3Port}`, bucket: "platform-backups", region: REGION, prefix: "primary" },
        clusterCaPem: ca.certPem,
        targets: [BackupTarget.consul()],
      });
      const taskDir = path.join(dir, label, "local");
      const secretsDir = path.join(dir, label, "secrets");
      fs.mkdirSync(taskDir, { recursive: true });
      fs.mkdirSync(secretsDir, { recursive: true });
      const script = writeFile(taskDir, "backup.sh", spec.files?.find((f) => f.destination === "local/backup.sh")?.content as string);
      // What the s3.curlrc template renders from the variable's keys.
      writeFile(secretsDir, "s3.curlrc", `user = "${ACCESS_KEY}:${secretKey}"\n`, 0o600);
      return runAsync("sh", [script], {
        NOMAD_TASK_DIR: taskDir,
        NOMAD_SECRETS_DIR: secretsDir,
        // Here the agent is a dev agent on plain HTTP; on the platform agent.env points at HTTPS.
        CONSUL_HTTP_ADDR: consulAddr,
        CURL_CA_BUNDLE: ca.certFile,
        PATH: `${process.env.PATH}:${path.dirname(requireTool("consul"))}`,
      });
    }

    test("snapshot saved, uploaded with a valid signature under <prefix>/<job>/<stamp>/, and readable by consul snapshot inspect", async () => {
      const r = await runBackup(SECRET_KEY, "ok");
      if (r.status !== 0) throw new Error(`${describeRun(r)}\nrejected: ${rejected.join("; ")}`);
      expect(rejected).toEqual([]);
      const keys = [...stored.keys()];
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/^\/platform-backups\/primary\/backup-consul\/\d{8}T\d{6}Z\/consul\.snap$/);
      expect(r.stdout).toContain("backup-consul: uploaded consul.snap under s3://platform-backups/primary/backup-consul/");
      const snap = writeFile(dir, "downloaded.snap", stored.get(keys[0]) as Buffer);
      const inspect = run("consul", ["snapshot", "inspect", snap]);
      if (inspect.status !== 0) throw new Error(describeRun(inspect));
      expect(inspect.output).toMatch(/Index|ID/);
      // The local copy is removed after the upload.
      expect(fs.existsSync(path.join(dir, "ok", "local", "consul.snap"))).toBe(false);
    });

    test("negative control: with a wrong secret key the upload is refused and the script fails", async () => {
      const before = stored.size;
      const r = await runBackup("wrong-secret", "wrong");
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/403/);
      expect(stored.size).toBe(before);
      expect(rejected.some((x) => /signature mismatch/.test(x))).toBe(true);
    });
  });
});
