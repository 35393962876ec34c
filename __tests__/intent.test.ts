/**
 * Tests that state intent, not output: the security model (README, Security model) as a table
 * of who may reach whom on which port, and where each secret of the workloads comes from,
 * checked against the synthesized stacks of both default sites. Each row is a test of its own,
 * so that deleting one firewall rule or re-sourcing one secret fails a test that names it; a last
 * test per table fails on anything the table does not list.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { App } from "cdktf";
import { SiteConfig } from "../config/deployment";
import { buildDeployment } from "../stacks/deployment";
import { defaultDeployment } from "./helpers";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Where traffic may come from: a role's security group (`bastion`, `client`, `development`,
 * `ingress`, `members`: every Consul member, `server`, `vpn`), or an address range of the site.
 */
type From = "bastion" | "client" | "development" | "ingress" | "members" | "server" | "vpn" | "admin networks" | "admin VPN range" | "own servers tier" | "other site's servers tier" | "anywhere";

/** One allowed flow: [to (a role's group), "tcp 22" | "udp 8301" | "tcp 20000-32000", from]. */
type Flow = readonly [string, string, From];

/** Who may reach whom, on which port: the README's security model, row by row. */
const FLOWS: readonly Flow[] = [
  // SSH: the bastion from the admins, everything else from the bastion.
  ["bastion", "tcp 22", "admin networks"],
  ["client", "tcp 22", "bastion"],
  ["development", "tcp 22", "bastion"],
  ["ingress", "tcp 22", "bastion"],
  ["server", "tcp 22", "bastion"],
  ["vpn", "tcp 22", "bastion"],
  // The public edge.
  ["vpn", "udp 51820", "anywhere"],
  ["vpn", "udp 51821", "anywhere"],
  ["ingress", "tcp 80", "anywhere"],
  ["ingress", "tcp 443", "anywhere"],
  // Consul inside the site.
  ["members", "tcp 8301", "members"],
  ["members", "udp 8301", "members"],
  ["server", "tcp 8300", "members"],
  ["server", "tcp 8501", "members"],
  ["server", "tcp 8600", "members"],
  ["server", "udp 8600", "members"],
  ["server", "tcp 8302", "server"],
  ["server", "udp 8302", "server"],
  // Nomad inside the site.
  ["server", "tcp 4646", "members"],
  ["server", "tcp 4647", "client"],
  ["server", "tcp 4647", "server"],
  ["server", "tcp 4648", "server"],
  ["server", "udp 4648", "server"],
  ["client", "tcp 20000-32000", "client"],
  ["client", "tcp 20000-32000", "ingress"],
  ["client", "tcp 4646", "client"],
  // Prometheus on the clients.
  ["members", "tcp 9100", "client"],
  ["server", "tcp 8501", "client"],
  // Operators on the VPN.
  ["server", "tcp 4646", "admin VPN range"],
  ["server", "tcp 8501", "admin VPN range"],
  ["server", "tcp 8600", "admin VPN range"],
  ["server", "udp 8600", "admin VPN range"],
  ["client", "tcp 4646", "admin VPN range"],
  // Federation with the other site, over the site-to-site tunnel.
  ["server", "tcp 8300", "other site's servers tier"],
  ["server", "tcp 8302", "other site's servers tier"],
  ["server", "udp 8302", "other site's servers tier"],
  ["server", "tcp 4647", "other site's servers tier"],
  ["server", "tcp 4648", "other site's servers tier"],
  ["server", "udp 4648", "other site's servers tier"],
  ["vpn", "tcp 8300", "own servers tier"],
  ["vpn", "tcp 8302", "own servers tier"],
  ["vpn", "udp 8302", "own servers tier"],
  ["vpn", "tcp 4647", "own servers tier"],
  ["vpn", "tcp 4648", "own servers tier"],
  ["vpn", "udp 4648", "own servers tier"],
];

/** Where each secret a workload reads from its Nomad variable comes from. */
type Source = "generated password" | "sensitive variable" | "cluster CA (infra output)" | "Consul management token (infra output)" | "Nomad management token (infra output)" | "ingress certificate" | "ingress private key";

const SECRETS: ReadonlyArray<readonly [string, Source]> = [
  ["postgres_password", "generated password"],
  ["mariadb_root_password", "generated password"],
  ["influxdb_admin_password", "generated password"],
  ["influxdb_admin_token", "generated password"],
  ["minio_root_password", "generated password"],
  ["rabbitmq_password", "generated password"],
  ["backup_s3_access_key_id", "sensitive variable"],
  ["backup_s3_secret_access_key", "sensitive variable"],
  ["cluster_ca_pem", "cluster CA (infra output)"],
  ["consul_snapshot_token", "Consul management token (infra output)"],
  ["nomad_snapshot_token", "Nomad management token (infra output)"],
  ["ingress_tls_certificate", "ingress certificate"],
  ["ingress_tls_private_key", "ingress private key"],
];

/** The source a Nomad variable item's value is a reference to; undefined for anything else (a literal). */
function sourceOf(value: string, variables: Json): Source | undefined {
  const ref = /^\$\{([^}]+)\}$/.exec(value)?.[1];
  if (!ref) return undefined;
  if (/^random_password\.[\w-]+\.result$/.test(ref)) return "generated password";
  if (/^tls_self_signed_cert\.[\w-]+\.cert_pem$/.test(ref)) return "ingress certificate";
  if (/^tls_private_key\.[\w-]+\.private_key_pem$/.test(ref)) return "ingress private key";
  const v = /^var\.([\w-]+)$/.exec(ref)?.[1];
  if (v) return variables?.[v]?.sensitive === true ? "sensitive variable" : undefined;
  const out = /^data\.terraform_remote_state\.[\w-]+\.outputs\.([\w-]+)$/.exec(ref)?.[1] ?? "";
  if (/cluster_ca_cert.*cert_pem$/.test(out)) return "cluster CA (infra output)";
  if (/consul-management_token.*result$/.test(out)) return "Consul management token (infra output)";
  if (/nomad-management_token.*result$/.test(out)) return "Nomad management token (infra output)";
  return undefined;
}

const deployment = defaultDeployment();
/** The stacks as `cdktf synth` writes them (cross-stack references resolved into remote state). */
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "intent-"));
const app = new App({ outdir });
buildDeployment(app, deployment);
app.synth();
const synthesized = (stack: string): Json => JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stack, "cdk.tf.json"), "utf8"));
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

/** The synthesized ingress rules of a site, each as "to | proto port | from". */
function flowsOf(site: SiteConfig): string[] {
  const json = synthesized(`${site.name}-infra`);
  const groups = Object.fromEntries(Object.entries(json.resource.openstack_networking_secgroup_v2 as Record<string, Json>).map(([id, g]) => [id, String(g.name).split("-").pop() as string]));
  const peer = deployment.sites.find((s) => s.name === site.peerSite);
  const ranges: Record<string, From> = {
    "0.0.0.0/0": "anywhere",
    [site.vpn.range]: "admin VPN range",
    [site.tiers.servers]: "own servers tier",
    ...Object.fromEntries(site.adminNetworks.map((n) => [n, "admin networks" as From])),
    ...(peer ? { [peer.tiers.servers]: "other site's servers tier" as From } : {}),
  };
  const groupOf = (ref: string) => groups[/\.([\w-]+)\.id\}$/.exec(ref)?.[1] ?? ""] ?? `unknown group ${ref}`;
  return Object.values(json.resource.openstack_networking_secgroup_rule_v2 as Record<string, Json>).map((r) => {
    const ports = r.port_range_min === r.port_range_max ? `${r.port_range_min}` : `${r.port_range_min}-${r.port_range_max}`;
    const from = r.remote_group_id ? groupOf(r.remote_group_id) : ranges[r.remote_ip_prefix] ?? `unknown range ${r.remote_ip_prefix}`;
    return `${groupOf(r.security_group_id)} | ${r.direction === "ingress" ? "" : `${r.direction} `}${r.protocol} ${ports} | ${from}`;
  });
}

for (const site of deployment.sites) {
  describe(`${site.name}: who may reach whom, on which port`, () => {
    const rules = flowsOf(site);
    for (const [to, port, from] of FLOWS) {
      test(`${from} may reach ${to} on ${port}`, () => {
        expect(rules).toContain(`${to} | ${port} | ${from}`);
      });
    }
    test("nothing else is open: every synthesized rule is a row of the table, once", () => {
      const table = FLOWS.map(([to, port, from]) => `${to} | ${port} | ${from}`);
      expect(rules.filter((f) => !table.includes(f))).toEqual([]);
      expect(rules.filter((f, i) => rules.indexOf(f) !== i)).toEqual([]);
    });
  });

  describe(`${site.name}: where each secret of the workloads comes from`, () => {
    const json = synthesized(`${site.name}-platform`);
    const items = Object.values(json.resource.nomad_variable as Record<string, Json>).flatMap((v) => Object.entries(v.items as Record<string, string>).map(([key, value]) => ({ path: v.path as string, key, source: sourceOf(value, json.variable) })));
    for (const [key, source] of SECRETS) {
      test(`${key} comes from the ${source}`, () => {
        const uses = items.filter((i) => i.key === key);
        expect(uses.length).toBeGreaterThan(0);
        expect(uses.filter((i) => i.source !== source).map((i) => `${i.path}: ${i.source ?? "a literal or an unknown reference"}`)).toEqual([]);
      });
    }
    test("no other secret: every item of every Nomad variable is a row of the table", () => {
      const known = SECRETS.map(([k]) => k);
      expect(items.filter((i) => !known.includes(i.key)).map((i) => `${i.path}: ${i.key}`)).toEqual([]);
    });
  });
}
