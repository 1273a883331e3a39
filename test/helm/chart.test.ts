import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { isMap, parseDocument, type YAMLMap } from "yaml";
import { loadConfig } from "../../config.ts";
import { KNOWN_SERVICES } from "../../platform.ts";
import {
  byKind,
  CHART,
  containersOf,
  envOf,
  GPU_VALUES,
  lint,
  type Manifest,
  named,
  podSpecOf,
  render,
  renderError,
} from "./helpers.ts";

/**
 * The Helm chart, checked without a cluster: `helm lint` and `helm template` with the default values
 * and with ci/gpu-values.yaml, the rendered manifests parsed and inspected.
 */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

let defaults: Manifest[];
let gpu: Manifest[];
test.before(async () => {
  [defaults, gpu] = await Promise.all([render(), render({ values: [GPU_VALUES] })]);
});

async function valuesFile(name: string, text: string): Promise<string> {
  const file = path.join(tmpdir(), `proxima-helm-${process.pid}-${name}.yaml`);
  await writeFile(file, text);
  return file;
}

test("helm lint passes with the default values and with the GPU values", async (t) => {
  for (const values of [[], [GPU_VALUES]]) {
    const result = await lint({ values });
    t.true(result.ok, `${values.join(" ")}\n${result.stdout}${result.stderr}`);
  }
});

test("the default values deploy the api, two controllers, the CPU pool only, bundled NATS and PostgreSQL", (t) => {
  const deployments = byKind(defaults, "Deployment").map((d) => d.metadata.name);
  t.deepEqual(deployments.sort(), ["proxima-api", "proxima-controller", "proxima-worker-cpu"]);
  t.true(named(defaults, "Deployment", "proxima-controller").spec.replicas >= 2);
  const statefulSets = byKind(defaults, "StatefulSet").map((s) => s.metadata.name);
  t.deepEqual(statefulSets.sort(), ["proxima-nats", "proxima-postgresql"]);
  const nats = named(defaults, "StatefulSet", "proxima-nats");
  t.is(nats.spec.volumeClaimTemplates[0].spec.resources.requests.storage, "10Gi");
  const natsConf = named(defaults, "ConfigMap", "proxima-nats").data["nats.conf"] as string;
  t.regex(natsConf, /jetstream \{\s*store_dir: \/data\/jetstream/);
  t.is(byKind(defaults, "HorizontalPodAutoscaler").length, 0);
  t.is(byKind(defaults, "Ingress").length, 0);
});

test("the migration Job runs `proxima migrate` as a hook: pre-install with an external database, post-install with the bundled one", (t) => {
  const bundled = named(defaults, "Job", "proxima-migrate");
  t.is(bundled.metadata.annotations["helm.sh/hook"], "post-install,pre-upgrade");
  t.deepEqual(podSpecOf(bundled)!.containers[0].command, ["proxima", "migrate"]);
  const external = named(gpu, "Job", "proxima-migrate");
  t.is(external.metadata.annotations["helm.sh/hook"], "pre-install,pre-upgrade");
});

test("GPU pools request nvidia.com/gpu in limits only, run the GPU image and set WORKER_GPU; CPU pools have no GPU", (t) => {
  const workers = byKind(gpu, "Deployment").filter(
    (d) => d.metadata.labels["app.kubernetes.io/component"] === "worker",
  );
  const byPool = new Map(workers.map((d) => [d.metadata.labels["proxima.dev/pool"] as string, d]));
  t.deepEqual([...byPool.keys()].sort(), ["a100-x2", "cpu", "gpu"]);
  const expectedGpus: Record<string, number> = { cpu: 0, gpu: 1, "a100-x2": 2 };
  for (const [pool, deployment] of byPool) {
    const container = podSpecOf(deployment)!.containers[0];
    const env = envOf(container);
    const want = expectedGpus[pool]!;
    t.falsy(container.resources.requests?.["nvidia.com/gpu"], `${pool}: no GPU in requests`);
    if (want > 0) {
      t.is(container.resources.limits["nvidia.com/gpu"], want, pool);
      t.regex(container.image, /proxima-gpu:/, pool);
      t.is(env.get("WORKER_GPU")?.value, "true", pool);
      t.is(env.get("PROXIMA_BACKEND")?.value, "tensorflow", pool);
      t.truthy(
        podSpecOf(deployment)!.tolerations?.some((x: Manifest) => x.key === "nvidia.com/gpu"),
        `${pool} tolerates the GPU taint`,
      );
    } else {
      t.is(container.resources.limits["nvidia.com/gpu"], undefined, pool);
      t.notRegex(container.image, /proxima-gpu:/, pool);
      t.is(env.get("WORKER_GPU")?.value, "false", pool);
    }
  }
  t.is(envOf(podSpecOf(byPool.get("a100-x2")!)!.containers[0]).get("WORKER_SLOTS")?.value, "16");
  t.deepEqual(podSpecOf(byPool.get("a100-x2")!)!.nodeSelector, {
    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
  });
});

test("HPA bounds and targets follow the values; autoscaled Deployments leave replicas to the HPA", async (t) => {
  const hpa = (name: string) => named(gpu, "HorizontalPodAutoscaler", name).spec;
  t.like(hpa("proxima-api"), { minReplicas: 3, maxReplicas: 12 });
  t.is(hpa("proxima-api").metrics[0].resource.target.averageUtilization, 60);
  t.like(hpa("proxima-worker-cpu"), { minReplicas: 2, maxReplicas: 20 });
  t.is(hpa("proxima-worker-cpu").metrics[0].resource.target.averageUtilization, 75);
  t.like(hpa("proxima-worker-gpu"), { minReplicas: 1, maxReplicas: 6 });
  t.is(hpa("proxima-worker-gpu").behavior.scaleDown.stabilizationWindowSeconds, 600);
  for (const name of ["proxima-api", "proxima-worker-cpu", "proxima-worker-gpu"]) {
    t.is(named(gpu, "Deployment", name).spec.replicas, undefined, name);
  }
  t.is(named(gpu, "Deployment", "proxima-worker-a100-x2").spec.replicas, 2);
  t.throws(() => named(gpu, "HorizontalPodAutoscaler", "proxima-worker-a100-x2"));

  const scaled = await render({
    set: [
      "workerPools.cpu.replicas=7",
      "workerPools.gpu.enabled=true",
      "workerPools.gpu.autoscaling.enabled=true",
      "workerPools.gpu.autoscaling.minReplicas=0",
      "workerPools.gpu.autoscaling.maxReplicas=3",
    ],
  });
  t.is(named(scaled, "Deployment", "proxima-worker-cpu").spec.replicas, 7);
  t.like(named(scaled, "HorizontalPodAutoscaler", "proxima-worker-gpu").spec, {
    minReplicas: 0,
    maxReplicas: 3,
  });
});

test("an HPA whose minReplicas is above its maxReplicas fails the render, naming the pool", async (t) => {
  const stderr = await renderError({
    set: [
      "workerPools.cpu.autoscaling.enabled=true",
      "workerPools.cpu.autoscaling.minReplicas=5",
      "workerPools.cpu.autoscaling.maxReplicas=2",
    ],
  });
  t.regex(stderr, /workerPools\.cpu\.autoscaling: minReplicas \(5\) is above maxReplicas \(2\)/);
});

test("every container has resources, probes (long-running ones) and a non-root, read-only securityContext", (t) => {
  for (const manifests of [defaults, gpu]) {
    const containers = containersOf(manifests);
    t.true(containers.length >= 7);
    for (const { owner, kind, pod, container } of containers) {
      const where = `${owner}/${container.name}`;
      t.truthy(container.resources?.requests?.memory, `${where}: memory request`);
      t.truthy(container.resources?.requests?.cpu, `${where}: cpu request`);
      t.truthy(container.resources?.limits?.memory, `${where}: memory limit`);
      if (kind === "Deployment" || kind === "StatefulSet") {
        for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
          t.truthy(container[probe], `${where}: ${probe}`);
        }
      }
      t.is(pod.securityContext?.runAsNonRoot, true, `${where}: pod runAsNonRoot`);
      t.true((pod.securityContext?.runAsUser ?? 0) > 0, `${where}: pod uid`);
      t.is(container.securityContext?.runAsNonRoot, true, `${where}: runAsNonRoot`);
      t.is(container.securityContext?.allowPrivilegeEscalation, false, `${where}: no privilege escalation`);
      t.is(container.securityContext?.readOnlyRootFilesystem, true, `${where}: read-only root`);
      t.deepEqual(container.securityContext?.capabilities?.drop, ["ALL"], `${where}: no capabilities`);
    }
  }
});

test("Proxima containers probe /healthz and /readyz on their port and write only to emptyDirs for /tmp and /data", (t) => {
  for (const { owner, kind, pod, container } of containersOf(defaults)) {
    if (kind !== "Deployment") continue;
    const port = owner.endsWith("-api") ? "http" : "health";
    t.deepEqual(container.livenessProbe.httpGet, { path: "/healthz", port }, owner);
    t.deepEqual(container.readinessProbe.httpGet, { path: "/readyz", port }, owner);
    const mounts = new Map(container.volumeMounts.map((m: Manifest) => [m.mountPath, m.name]));
    t.is(mounts.get("/tmp"), "tmp", owner);
    t.is(mounts.get("/data"), "data", owner);
    for (const volume of pod.volumes) t.truthy(volume.emptyDir, `${owner}: ${volume.name} is an emptyDir`);
    t.is(envOf(container).get("PROXIMA_DATA_DIR")?.value, "/data", owner);
  }
});

test("secrets are referenced from Secrets, never inlined: external ones by name, generated ones kept and used nowhere else", (t) => {
  // External secrets: the chart renders no Secret at all and every secret env var is a secretKeyRef.
  t.deepEqual(byKind(gpu, "Secret"), []);
  const refs = new Map<string, Manifest>();
  for (const { owner, container } of containersOf(gpu)) {
    for (const [name, entry] of envOf(container)) {
      if (["DATABASE_URL", "JWT_SECRET", "PROXIMA_ADMIN_EMAIL", "PROXIMA_ADMIN_PASSWORD"].includes(name)) {
        t.is(entry.value, undefined, `${owner}: ${name} is not inlined`);
        refs.set(name, entry.valueFrom.secretKeyRef);
      }
    }
  }
  t.deepEqual(refs.get("DATABASE_URL"), { name: "proxima-database", key: "url" });
  t.deepEqual(refs.get("JWT_SECRET"), { name: "proxima-jwt", key: "secret" });
  t.deepEqual(refs.get("PROXIMA_ADMIN_PASSWORD"), { name: "proxima-admin", key: "PROXIMA_ADMIN_PASSWORD" });

  // Generated secrets (default values): kept across uninstall, and their values appear nowhere else.
  const secrets = byKind(defaults, "Secret");
  t.deepEqual(secrets.map((s) => s.metadata.name).sort(), ["proxima-jwt", "proxima-postgresql"]);
  const others = JSON.stringify(defaults.filter((m) => m.kind !== "Secret"));
  for (const secret of secrets) {
    t.is(secret.metadata.annotations["helm.sh/resource-policy"], "keep");
    for (const [key, encoded] of Object.entries(secret.data as Record<string, string>)) {
      const plain = Buffer.from(encoded, "base64").toString();
      t.true(plain.length >= 32, `${secret.metadata.name}.${key} is long enough`);
      t.false(others.includes(plain) || others.includes(encoded), `${secret.metadata.name}.${key} leaks`);
    }
  }
  for (const { container } of containersOf(defaults)) {
    for (const entry of container.env ?? []) {
      t.false(
        /postgres(ql)?:\/\/[^@]*:[^@]*@/.test(entry.value ?? ""),
        `${entry.name} carries no credentials`,
      );
    }
  }
});

test("the api and controllers get the JWT secret; workers do not", (t) => {
  const jwtHolders = containersOf(defaults)
    .filter(({ container }) => envOf(container).has("JWT_SECRET"))
    .map(({ owner }) => owner)
    .sort();
  t.deepEqual(jwtHolders, ["Deployment/proxima-api", "Deployment/proxima-controller"]);
});

test("every object name and label is a valid DNS label, even with a long release name and a 24-character pool name", async (t) => {
  const manifests = await render({
    release: "a-rather-long-release-name-for-proxima-production",
    values: [GPU_VALUES],
    set: ["workerPools.abcdefghijklmnopqrstuvwx.slots=2"],
  });
  const names = manifests.map((m) => m.metadata.name as string);
  t.true(names.some((n) => n.endsWith("-worker-abcdefghijklmnopqrstuvwx")));
  for (const m of manifests) {
    const name = m.metadata.name as string;
    t.true(name.length <= 63 && DNS_LABEL.test(name), `${m.kind} ${name}`);
    for (const value of Object.values(m.metadata.labels ?? {}) as string[]) {
      t.true(String(value).length <= 63, `${m.kind} ${name}: label ${value}`);
    }
  }
  t.is(
    new Set(manifests.map((m) => `${m.kind}/${m.metadata.name}`)).size,
    manifests.length,
    "no name collides",
  );
});

test("values.schema.json rejects an invalid pool name", async (t) => {
  for (const bad of ["GPU_Pool", "gpu.pool", "9pool", "abcdefghijklmnopqrstuvwxy"]) {
    const file = await valuesFile(`pool-${bad}`, `workerPools:\n  ${bad}:\n    replicas: 1\n`);
    const stderr = await renderError({ values: [file] });
    t.regex(stderr, /values don't meet the specifications of the schema/, bad);
    t.true(stderr.includes(bad), `the error names ${bad}`);
    t.false((await lint({ values: [file] })).ok, `helm lint fails on ${bad}`);
  }
});

test("values.schema.json rejects a bad values file, naming each wrong value", async (t) => {
  const file = await valuesFile(
    "bad",
    [
      "controller:",
      "  replicas: 1", // a single controller cannot fail over
      "workerPools:",
      "  cpu:",
      "    replicas: two",
      "    gpu: -1",
      "    slotz: 4",
      "postgresql:",
      "  enabled: false", // and no external Secret
      "securityContext:",
      "  runAsNonRoot: false",
      "  readOnlyRootFilesystem: true",
      "  allowPrivilegeEscalation: false",
      "",
    ].join("\n"),
  );
  const stderr = await renderError({ values: [file] });
  for (const needle of [
    "controller.replicas",
    "workerPools.cpu.replicas",
    "workerPools.cpu.gpu",
    "slotz",
    "postgresql",
    "securityContext.runAsNonRoot",
  ]) {
    t.true(stderr.includes(needle), `the error names ${needle}:\n${stderr}`);
  }
  t.false((await lint({ values: [file] })).ok);
});

test("every rendered role hosts services the code knows, with an environment config.ts accepts", (t) => {
  for (const manifests of [defaults, gpu]) {
    for (const { owner, container } of containersOf(manifests)) {
      const env = envOf(container);
      if (!env.has("SERVICES")) continue;
      const services = (env.get("SERVICES")!.value as string).split(",");
      for (const s of services) t.true(KNOWN_SERVICES.includes(s), `${owner}: unknown service ${s}`);
      // Values from Secrets and the downward API are filled in as a pod would see them.
      const plain: Record<string, string> = {};
      for (const [name, entry] of env) {
        plain[name] =
          entry.value ?? (name === "JWT_SECRET" ? "x".repeat(64) : `${name.toLowerCase()}-from-ref`);
      }
      t.notThrows(() => loadConfig(plain), owner);
    }
  }
});

test("the helm test pod checks the API's /readyz and expects every role and every GPU pool in the node list", (t) => {
  const pod = named(gpu, "Pod", "proxima-test-cluster");
  t.is(pod.metadata.annotations["helm.sh/hook"], "test");
  const container = pod.spec.containers[0];
  t.deepEqual(container.command, ["node", "dist/lib/cluster-check.js"]);
  const env = Object.fromEntries([...envOf(container)].map(([k, v]) => [k, v.value]));
  t.like(env, {
    API_URL: "http://proxima-api:80",
    EXPECT_API_NODES: "1",
    EXPECT_CONTROLLER_NODES: "1",
    EXPECT_WORKER_NODES: "3",
    EXPECT_GPU_WORKER_NODES: "2",
  });
  t.is(
    envOf(named(defaults, "Pod", "proxima-test-cluster").spec.containers[0]).get("EXPECT_GPU_WORKER_NODES")
      ?.value,
    "0",
  );
});

/**
 * Keys of values.yaml without a comment. A commented key whose value is a map documents that map as a
 * whole (a Kubernetes object such as `resources`); an uncommented map must comment each of its keys.
 */
function uncommented(text: string): string[] {
  const missing: string[] = [];
  const walk = (map: YAMLMap, prefix: string) => {
    map.items.forEach((pair, i) => {
      const key = pair.key as { value: unknown; commentBefore?: string | null };
      // The comment above a map's first key is attached to the map itself.
      if (key.commentBefore || (i === 0 && map.commentBefore)) return;
      if (isMap(pair.value)) walk(pair.value as YAMLMap, `${prefix}${String(key.value)}.`);
      else missing.push(`${prefix}${String(key.value)}`);
    });
  };
  walk(parseDocument(text).contents as YAMLMap, "");
  return missing;
}

test("every value in values.yaml has a comment", async (t) => {
  t.deepEqual(uncommented("# -- documented\na: 1\nb:\n  # -- documented\n  c: 2\n  d: 3\n"), ["b.d"]);
  t.deepEqual(uncommented(await readFile(path.join(CHART, "values.yaml"), "utf8")), []);
});

test("NetworkPolicies let only the release's pods reach NATS, and the API's port only that port", (t) => {
  t.deepEqual(byKind(defaults, "NetworkPolicy"), [], "off by default");
  const release = { "app.kubernetes.io/instance": "proxima", "app.kubernetes.io/name": "proxima" };
  const nats = named(gpu, "NetworkPolicy", "proxima-nats").spec;
  t.deepEqual(nats.ingress[0], {
    ports: [{ port: "client" }],
    from: [{ podSelector: { matchLabels: release } }],
  });
  const api = named(gpu, "NetworkPolicy", "proxima-api").spec;
  t.true(api.ingress.every((rule: Manifest) => rule.ports.length === 1));
  // Its public port, and HEALTH_PORT (/metrics) only from where Prometheus runs.
  const healthRules = api.ingress.filter((rule: Manifest) => rule.ports[0].port === "health");
  t.deepEqual(
    healthRules.map((rule: Manifest) => rule.from),
    [[{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }]],
  );
  t.true(api.ingress.every((rule: Manifest) => ["http", "health"].includes(rule.ports[0].port)));
  for (const component of ["controller", "worker"]) {
    const spec = named(gpu, "NetworkPolicy", `proxima-${component}`).spec;
    t.deepEqual(spec.ingress[0].ports, [{ port: "health" }], component);
    t.deepEqual(spec.ingress[0].from, [
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
    ]);
  }
});

test("each role's drain gives up before Kubernetes kills it: SHUTDOWN_TIMEOUT_MS fits the grace period (after the preStop sleep)", (t) => {
  for (const manifests of [defaults, gpu]) {
    for (const d of byKind(manifests, "Deployment")) {
      const pod = podSpecOf(d)!;
      const container = pod.containers[0];
      const preStop = Number(container.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
      const timeout = Number(envOf(container).get("SHUTDOWN_TIMEOUT_MS")?.value);
      t.true(timeout > 0, d.metadata.name);
      t.true(timeout + preStop * 1000 < pod.terminationGracePeriodSeconds * 1000, d.metadata.name);
    }
  }
  t.is(podSpecOf(named(defaults, "Deployment", "proxima-worker-cpu"))!.terminationGracePeriodSeconds, 120);
});
