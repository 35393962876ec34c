import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultConfigPath, DeploymentConfigError, parseDeployment } from "../config/deployment";
import { DEFAULT_CONFIG_TEXT, defaultDeployment, editedYaml } from "./helpers";

/** Parses an edited default deployment and returns the problem lines (fails the test if none). */
function problems(edit: (doc: Record<string, any>) => void): string[] {
  try {
    parseDeployment(editedYaml(edit), "deployment.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(DeploymentConfigError);
    return (err as Error).message.split("\n");
  }
  throw new Error("expected the deployment to be refused");
}

describe("deployment config", () => {
  test("GIVEN the default file WHEN parsed THEN both sites resolve with their defaults", () => {
    const d = defaultDeployment();
    expect(d.sites.map((s) => s.name)).toEqual(["primary", "backup"]);
    const backup = d.sites[1];
    // tiers carved from the site range when not given
    expect(backup.tiers).toEqual({ utility: "10.20.0.0/24", servers: "10.20.1.0/24", clients: "10.20.2.0/24", development: "10.20.3.0/24" });
    expect(backup.servers.map((s) => s.fixedIp)).toEqual(["10.20.1.10", "10.20.1.11", "10.20.1.12"]);
    expect(backup.vpn.port).toBe(51820);
    expect(backup.vpn.gatewayAddress).toBe("10.220.0.1");
    expect(backup.cloud).toBe("backup");
    expect(backup.initiatesTunnel).toBe(true);
    expect(d.sites[0].initiatesTunnel).toBe(false);
    expect(d.sites[0].development.map((v) => v.name)).toEqual(["dev-fleet", "dev-web"]);
    expect(d.sites[0].clients[0]).toMatchObject({ flavor: "m1.large", volumeGb: 50 });
  });

  test("GIVEN a third site WHEN parsed THEN it gets its own stacks' config without a tunnel", () => {
    const d = parseDeployment(
      editedYaml((doc) => {
        const test = JSON.parse(JSON.stringify(doc.sites[1]));
        test.name = "test";
        test.addressPlan.site = "10.30.0.0/16";
        test.vpn.range = "10.230.0.0/24";
        test.vpn.peers[0].address = "10.230.0.10";
        delete test.peerSite;
        doc.sites.push(test);
      }),
    );
    expect(d.sites.map((s) => s.name)).toEqual(["primary", "backup", "test"]);
    expect(d.sites[2].peerSite).toBeUndefined();
  });

  test("fails on invalid YAML, naming the line", () => {
    expect(() => parseDeployment("project: [unclosed\n", "bad.yaml")).toThrow(/bad.yaml: line \d+: got nothing, expected valid YAML/);
  });

  test("fails on a duplicate YAML key", () => {
    expect(() => parseDeployment(`${DEFAULT_CONFIG_TEXT}\nproject: again\n`, "dup.yaml")).toThrow(/expected valid YAML \(Map keys must be unique/);
  });

  test("fails on an unknown key (a typo is not ignored)", () => {
    expect(problems((d) => (d.sites[0].antiAfinity = "soft"))).toContain(
      'deployment.yaml: sites[0].antiAfinity: got "soft", expected no such field (check the spelling; unknown fields are refused)',
    );
  });

  test("fails on an invalid CIDR", () => {
    expect(problems((d) => (d.sites[0].addressPlan.site = "10.10.0.0/33"))).toContain(
      'deployment.yaml: sites[0].addressPlan.site: got "10.10.0.0/33", expected an IPv4 network in CIDR notation with no host bits set, e.g. 10.10.1.0/24',
    );
  });

  test("fails on a CIDR with host bits set", () => {
    expect(problems((d) => (d.sites[0].admins.networks = ["198.51.100.7/24"])).join("\n")).toMatch(/sites\[0\]\.admins\.networks\[0\]: got "198.51.100.7\/24", expected an IPv4 network/);
  });

  test("fails on overlapping tiers", () => {
    expect(problems((d) => (d.sites[0].addressPlan.tiers.clients = "10.10.1.128/25"))).toContain(
      'deployment.yaml: sites[0].addressPlan.tiers.clients: got "10.10.1.128/25", expected a subnet that does not overlap tier servers (10.10.1.0/24)',
    );
  });

  test("fails on a tier outside the site range", () => {
    expect(problems((d) => (d.sites[0].addressPlan.tiers.development = "10.99.3.0/24"))).toContain(
      'deployment.yaml: sites[0].addressPlan.tiers.development: got "10.99.3.0/24", expected a subnet inside the site range 10.10.0.0/16',
    );
  });

  test("fails on overlapping sites", () => {
    expect(problems((d) => (d.sites[1].addressPlan.site = "10.10.128.0/17")).join("\n")).toMatch(
      /sites\[1\]\.addressPlan\.site: got "10.10.128.0\/17", expected a range that does not overlap the site range 10.10.0.0\/16 of site primary/,
    );
  });

  test("fails on a VPN range overlapping a site", () => {
    expect(problems((d) => (d.sites[1].vpn.range = "10.10.250.0/24")).join("\n")).toMatch(/sites\[1\]\.vpn\.range: got "10.10.250.0\/24", expected a range that does not overlap the site range 10.10.0.0\/16 of site primary/);
  });

  test("fails on a VPN range inside its own site", () => {
    expect(problems((d) => (d.sites[0].vpn.range = "10.10.250.0/24")).join("\n")).toMatch(/sites\[0\]\.vpn\.range: got "10.10.250.0\/24", expected a range outside the site range/);
  });

  test("fails on an even number of servers, saying why", () => {
    expect(problems((d) => (d.sites[0].vms.server.count = 4))).toContain(
      "deployment.yaml: sites[0].vms.server.count: got 4, expected an odd number of servers (3, 5 or 7): with 4, losing half the servers loses the Raft quorum, so an even count adds no fault tolerance",
    );
  });

  test("fails on fewer than three servers, saying why", () => {
    expect(problems((d) => (d.sites[0].vms.server.count = 1)).join("\n")).toMatch(/sites\[0\]\.vms\.server\.count: got 1, expected 3, 5 or 7 servers: Consul and Nomad need a Raft quorum/);
  });

  test("fails on an unknown role", () => {
    expect(problems((d) => (d.sites[0].vms.worker = { count: 2 }))).toContain(
      'deployment.yaml: sites[0].vms.worker: got "worker", expected a known role: one of server, client, development, bastion, vpn, ingress',
    );
  });

  test("fails on duplicate site names", () => {
    expect(problems((d) => (d.sites[1].name = "primary")).join("\n")).toMatch(/sites\[1\]\.name: got "primary", expected a site name used once \(sites\[0\] has it\)/);
  });

  test("fails on duplicate VM names", () => {
    expect(problems((d) => (d.sites[0].vms.development.names = ["dev-a", "dev-a"])).join("\n")).toMatch(/sites\[0\]\.vms\.development\.names: got "dev-a", expected a VM name not already used/);
  });

  test("fails on a VM name that clashes with another role's", () => {
    expect(problems((d) => (d.sites[0].vms.development.names = ["server-1"])).join("\n")).toMatch(/got "server-1", expected a VM name not already used by role server/);
  });

  test("fails on an empty list of VPN peers, saying why", () => {
    expect(problems((d) => (d.sites[1].vpn.peers = []))).toEqual([
      'deployment.yaml: sites[1].vpn.peers: got [], expected at least one admin peer, e.g. { name: alice, publicKey: <wg pubkey>, address: <an address in vpn.range> }: the platform stack is deployed through the VPN',
    ]);
  });

  describe("an app's image and version", () => {
    const hello = { name: "hello", cpuMhz: 100, memoryMb: 64, port: 80 };
    const withApp = (image: string, version: string) => (d: Record<string, any>) => (d.sites[0].platform.apps = [{ ...hello, image, version }]);
    test("fails on an image that already holds a tag, saying where the tag goes", () => {
      expect(problems(withApp("nginx:1.27", "1.27"))).toEqual(['deployment.yaml: sites[0].platform.apps[0].image: got "nginx:1.27", expected an image name without tag, e.g. "nginx", the tag in version ("1.27")']);
    });
    test("fails on an image that holds a digest", () => {
      const digest = `sha256:${"a".repeat(64)}`;
      expect(problems(withApp(`registry.example.org:5000/team/app@${digest}`, "1"))).toEqual([`deployment.yaml: sites[0].platform.apps[0].image: got "registry.example.org:5000/team/app@${digest}", expected an image name without digest, e.g. "registry.example.org:5000/team/app", the digest in version ("${digest}")`]);
    });
    test("fails on a moving tag such as latest, saying why", () => {
      expect(problems(withApp("nginx", "latest"))).toEqual(['deployment.yaml: sites[0].platform.apps[0].version: got "latest", expected a pinned tag (e.g. "1.27.3") or a digest (sha256:...): "latest" moves, so a rollback or a canary of it means nothing']);
    });
    test("fails on a malformed digest", () => {
      expect(problems(withApp("nginx", "sha256:abc"))).toEqual(['deployment.yaml: sites[0].platform.apps[0].version: got "sha256:abc", expected a digest of 64 lower-case hex digits after sha256:']);
    });
    test("accepts a registry with a port, and a digest, which the job pins as image@sha256:...", () => {
      const digest = `sha256:${"b".repeat(64)}`;
      const d = parseDeployment(editedYaml(withApp("registry.example.org:5000/team/app", digest)), "deployment.yaml");
      expect(d.sites[0].platform?.apps[0]).toMatchObject({ image: "registry.example.org:5000/team/app", version: digest });
    });
  });

  test("fails on an empty SSH key list", () => {
    expect(problems((d) => (d.sites[0].admins.sshKeys = []))).toContain(
      "deployment.yaml: sites[0].admins.sshKeys: got [], expected at least one SSH public key (an empty list would lock every admin out), e.g. sshKeys: [ ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0vT9n1j0mCq0yXU2mN4x2mVtX9Jm5T3bC6s0F0b1Z alice@ops ]",
    );
  });

  test("fails on a malformed SSH key", () => {
    expect(problems((d) => (d.sites[0].admins.sshKeys = ["not-a-key"])).join("\n")).toMatch(/sites\[0\]\.admins\.sshKeys\[0\]: got "not-a-key", expected an OpenSSH public key line/);
  });

  test("fails on a port out of range", () => {
    expect(problems((d) => (d.sites[0].vpn.port = 70000))).toContain("deployment.yaml: sites[0].vpn.port: got 70000, expected a port from 1 to 65535, e.g. port: 51820");
  });

  test("fails on more VMs than the address plan holds", () => {
    expect(
      problems((d) => {
        d.sites[0].addressPlan.tiers.servers = "10.10.1.0/28";
        d.sites[0].vms.server.count = 7;
      }),
    ).toContain(
      'deployment.yaml: sites[0].addressPlan.tiers.servers: got "10.10.1.0/28", expected a subnet that holds 7 server VMs (it has room for 5 from host .10); widen it or lower the count',
    );
  });

  test("fails on a site range too small to carve default tiers", () => {
    expect(problems((d) => (d.sites[1].addressPlan.site = "10.20.0.0/24")).join("\n")).toMatch(/sites\[1\]\.addressPlan\.tiers\.utility: got nothing, expected a subnet: the site range 10.20.0.0\/24 is too small/);
  });

  test("fails on the whole Internet as an admin network", () => {
    expect(problems((d) => (d.sites[0].admins.networks = ["0.0.0.0/0"])).join("\n")).toMatch(/admins\.networks\[0\]: got "0.0.0.0\/0", expected a bounded admin network/);
  });

  test("fails on a one-sided site link", () => {
    expect(problems((d) => delete d.sites[1].peerSite).join("\n")).toMatch(/sites\[1\]\.peerSite: got nothing, expected "primary": the site-to-site link must be declared on both sites/);
  });

  test("fails on a link to an unknown site", () => {
    expect(problems((d) => (d.sites[0].peerSite = "nowhere")).join("\n")).toMatch(/sites\[0\]\.peerSite: got "nowhere", expected the name of another site in this file \(backup\)/);
  });

  test("fails on a VPN peer outside the VPN range", () => {
    expect(problems((d) => (d.sites[0].vpn.peers[0].address = "10.99.0.10")).join("\n")).toMatch(/sites\[0\]\.vpn\.peers\[0\]\.address: got "10.99.0.10", expected an address inside vpn.range 10.210.0.0\/24/);
  });

  test("fails on a malformed WireGuard key", () => {
    expect(problems((d) => (d.sites[0].vpn.publicKey = "short")).join("\n")).toMatch(/sites\[0\]\.vpn\.publicKey: got "short", expected a WireGuard public key/);
  });

  test("fails on a missing required field", () => {
    expect(problems((d) => delete d.sites[0].region)).toEqual(["deployment.yaml: sites[0].region: got nothing, expected a string, e.g. region: RegionOne; this field is required: OpenStack region of the site's resources"]);
  });

  test("fails on an empty string where a name is expected, with an example", () => {
    expect(problems((d) => (d.sites[0].region = ""))).toEqual(['deployment.yaml: sites[0].region: got "", expected a non-empty string, e.g. region: RegionOne']);
  });

  test("fails on a credential-like field anywhere, without echoing its value", () => {
    const lines = problems((d) => (d.sites[0].password = "hunter2"));
    expect(lines).toEqual(['deployment.yaml: sites[0].password: got "(not shown)", expected no such field, and no credential in the deployment file (README, Secrets and the Terraform state)']);
  });

  test("fails on a role without a flavor, once, with an example and why there is no default", () => {
    expect(problems((d) => delete d.sites[1].flavors.default)).toEqual([
      "deployment.yaml: sites[1].flavors.server: got nothing, expected a flavor for role server (or flavors.default), e.g. server: m1.medium (openstack flavor list): flavor names differ from cloud to cloud, so there is no default",
    ]);
  });

  test("fails on a site without flavors, naming the roles that need one in one line", () => {
    expect(problems((d) => delete d.sites[1].flavors)).toEqual([
      "deployment.yaml: sites[1].flavors.default: got nothing, expected a flavor for the roles server, client, bastion, vpn, ingress, which name none of their own, e.g. flavors: { default: m1.medium, client: m1.large } (openstack flavor list): flavor names differ from cloud to cloud, so there is no default",
    ]);
  });

  test("GIVEN every role with VMs naming its own flavor THEN flavors may be left out", () => {
    const d = parseDeployment(
      editedYaml((doc) => {
        delete doc.sites[1].flavors;
        delete doc.sites[1].platform;
        doc.sites[1].vms = { server: { flavor: "s" }, client: { flavor: "c" }, bastion: { flavor: "b" }, vpn: { flavor: "v" }, ingress: { flavor: "i" } };
      }),
    );
    expect([...d.sites[1].servers, ...d.sites[1].clients, d.sites[1].bastion, d.sites[1].vpnGateway, ...d.sites[1].ingress].map((v) => v.flavor)).toEqual(["s", "s", "s", "c", "c", "c", "b", "v", "i"]);
  });

  test("fails on a site without image, saying why there is no default", () => {
    expect(problems((d) => delete d.sites[0].image)).toEqual([expect.stringMatching(/^deployment\.yaml: sites\[0\]\.image: got nothing, expected a string, e\.g\. image: debian-12; this field is required: .*no default, since image names differ from cloud to cloud/)]);
  });

  test("GIVEN no vms.development THEN the site has no development VM (a default that creates resources is explicit)", () => {
    const d = parseDeployment(editedYaml((doc) => delete doc.sites[0].vms.development));
    expect(d.sites[0].development).toEqual([]);
    expect(defaultDeployment().sites.map((s) => s.development.map((v) => v.name))).toEqual([["dev-fleet", "dev-web"], []]);
  });

  test("fails on both count and names disagreeing", () => {
    expect(problems((d) => (d.sites[0].vms.development.count = 5)).join("\n")).toMatch(/sites\[0\]\.vms\.development\.count: got 5, expected either count or names, or a count equal to the 2 names/);
  });

  test("reports every problem at once, one line each", () => {
    const lines = problems((d) => {
      d.sites[0].vpn.port = 0;
      d.sites[0].vms.server.count = 2;
      d.sites[1].antiAffinity = "medium";
    });
    expect(lines).toHaveLength(2); // zod stops before cross-field checks: the shape errors first
    expect(lines.join("\n")).toMatch(/vpn\.port: got 0/);
    expect(lines.join("\n")).toMatch(/antiAffinity: got "medium", expected hard or soft/);
  });
});

describe("deployment config: the platform section", () => {
  test("fails on an unknown system", () => {
    expect(problems((d) => (d.sites[0].platform.systems = ["fleet", "crm"])).join("\n")).toMatch(/sites\[0\]\.platform\.systems\[1\]: got "crm", expected one of fleet, community, paas, images/);
  });

  test("fails on a client flavor without its size, with an example and why (the capacity check needs it)", () => {
    expect(problems((d) => delete d.sites[0].platform.flavorSizes["m1.large"])).toEqual([
      'deployment.yaml: sites[0].platform.flavorSizes: got ["m1.small"], expected the size of flavor m1.large (used by client client-1), e.g. flavorSizes: { m1.large: { vcpus: 4, ramMb: 8192 } } (openstack flavor show m1.large): the capacity check at synth compares the jobs\' asks with what the VMs hold',
    ]);
  });

  test("fails on a platform without flavorSizes, one line per flavor the clients and the ingress use", () => {
    expect(problems((d) => delete d.sites[1].platform.flavorSizes)).toEqual([
      expect.stringMatching(/^deployment\.yaml: sites\[1\]\.platform\.flavorSizes: got \[\], expected the size of flavor m1\.large \(used by client client-1\), e\.g\. /),
      expect.stringMatching(/^deployment\.yaml: sites\[1\]\.platform\.flavorSizes: got \[\], expected the size of flavor m1\.small \(used by ingress ingress-1\), e\.g\. /),
    ]);
  });

  test("fails on a webhook that is not a URL", () => {
    expect(problems((d) => (d.sites[0].platform.alertWebhook = "alerts")).join("\n")).toMatch(/platform\.alertWebhook: got "alerts", expected an http\(s\) URL/);
  });

  test("GIVEN a site that runs no reference system and routes no alerts THEN it needs neither registry nor alertWebhook", () => {
    const d = parseDeployment(
      editedYaml((doc) => {
        const p = doc.sites[1].platform;
        p.systems = [];
        delete p.registry;
        delete p.alertWebhook;
      }),
    );
    expect(d.sites[1].platform).toMatchObject({ systems: [] });
    expect(d.sites[1].platform?.registry).toBeUndefined();
    expect(d.sites[1].platform?.alertWebhook).toBeUndefined();
  });

  test("fails on reference systems without a registry, saying what pulls from it", () => {
    expect(problems((d) => delete d.sites[0].platform.registry)).toEqual([
      "deployment.yaml: sites[0].platform.registry: got nothing, expected an image registry and path, e.g. registry: registry.example.org/platform: the reference systems fleet, community, paas, images run their images from <registry>/<image>:<version>",
    ]);
  });

  test("fails on a platform whose clients have no data disk, asking for vms.client.volumeGb by name and saying why", () => {
    expect(problems((d) => delete d.sites[1].vms.client.volumeGb)).toEqual([
      "deployment.yaml: sites[1].vms.client.volumeGb: got nothing, expected a data disk size in GB for the clients, e.g. client: { count: 3, volumeGb: 50 }: the site's platform runs Prometheus and Loki (and the reference systems' databases), which keep their data on the clients' data disk",
    ]);
  });

  test("GIVEN no platform THEN the clients need no data disk", () => {
    const d = parseDeployment(
      editedYaml((doc) => {
        delete doc.sites[1].platform;
        delete doc.sites[1].vms.client.volumeGb;
      }),
    );
    expect(d.sites[1].clients[0].volumeGb).toBeUndefined();
  });

  test("an app runs two instances unless its count says otherwise", () => {
    const d = parseDeployment(editedYaml((doc) => (doc.sites[0].platform.apps = [{ name: "hello", image: "nginx", version: "1.27.3", cpuMhz: 100, memoryMb: 64, port: 80 }])));
    expect(d.sites[0].platform?.apps[0].count).toBe(2);
  });

  test("fails on an app without its CPU ask, and on a bad public host label", () => {
    const lines = problems((d) => (d.sites[0].platform.apps = [{ name: "hello", image: "nginx", version: "1", memoryMb: 64, port: 80, public: "Hello World" }])).join("\n");
    expect(lines).toMatch(/platform\.apps\[0\]\.cpuMhz: got nothing, expected a number, e\.g\. cpuMhz: 100; this field is required: CPU ask per instance, in MHz$/m);
    expect(lines).toMatch(/platform\.apps\[0\]\.public: got "Hello World", expected a host name label, e.g. api/);
  });
});

describe("which deployment file", () => {
  const withEnv = (value: string | undefined, f: () => void) => {
    const before = process.env.DEPLOYMENT_CONFIG;
    if (value === undefined) delete process.env.DEPLOYMENT_CONFIG;
    else process.env.DEPLOYMENT_CONFIG = value;
    try {
      f();
    } finally {
      if (before === undefined) delete process.env.DEPLOYMENT_CONFIG;
      else process.env.DEPLOYMENT_CONFIG = before;
    }
  };
  test("the working copy's cdktf.json chooses it once; DEPLOYMENT_CONFIG overrides it for one command; else config/deployment.yaml", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wc-"));
    withEnv(undefined, () => expect(defaultConfigPath(dir)).toBe("config/deployment.yaml"));
    fs.writeFileSync(path.join(dir, "cdktf.json"), JSON.stringify({ app: "x", context: { deploymentConfig: "config/examples/lab.yaml" } }));
    withEnv(undefined, () => expect(defaultConfigPath(dir)).toBe("config/examples/lab.yaml"));
    withEnv("other.yaml", () => expect(defaultConfigPath(dir)).toBe("other.yaml"));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
