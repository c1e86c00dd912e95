// Validates Kubernetes objects against the API's schemas (kubernetes-models) and checks kdbg's
// security and wiring properties.
//
//   node validate.mjs --objects FILE.json [--checks kdbg] [--expect EXPECT.json]
//
// FILE.json: the output of `kdbg-chart-render tojson` (array of {source, doc, object, embedded}).
// --checks kdbg: the set must be a whole kdbg install; EXPECT.json overrides what the defaults
// expect (see DEFAULT_EXPECT). Prints one line per problem and exits 1 if there is any.
// NODE_PATH-free: run with the current directory (or --modules DIR) holding node_modules.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const objectsFile = opt("--objects");
const checks = opt("--checks");
const expectFile = opt("--expect");
const modules = path.resolve(opt("--modules") ?? "node_modules");
if (!objectsFile) { console.error("usage: node validate.mjs --objects FILE.json [--checks kdbg] [--expect F]"); process.exit(2); }

const problems = [];
const problem = (where, msg) => problems.push(`${where}: ${msg}`);
const entries = JSON.parse(fs.readFileSync(objectsFile, "utf8"));

// ---- schema validation ---------------------------------------------------------------------------
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"]);
// The model class for apiVersion/kind, and the schema's compiled validate function it wraps.
async function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") return undefined;
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  let file;
  if (group.endsWith("cert-manager.io")) file = path.join(modules, "@kubernetes-models/cert-manager", group, version, `${kind}.js`);
  else file = path.join(modules, "kubernetes-models", group === "" ? "" : group, version, `${kind}.js`);
  if (!fs.existsSync(file)) return undefined;
  const mod = await import(pathToFileURL(file).href);
  const schemaRef = fs.readFileSync(file, "utf8").match(/from\s*"(\.[^"]*_schemas\/[^"]+\.js)"/);
  const schema = schemaRef ? await import(new URL(schemaRef[1], pathToFileURL(file)).href) : undefined;
  return mod[kind] && { Model: mod[kind], schemaValidate: schema?.validate };
}

// Unknown fields. The schemas do not forbid them (a misspelt `readOnlyRootFilesytem` would pass), but
// the compiled validators read every property the schema knows, and every key of free-form maps:
// validate through a Proxy that records what is read, and report each key that never was.
function unknownFields(schemaValidate, obj) {
  const all = new Set(), read = new Set();
  const track = (v, at) => {
    if (v === null || typeof v !== "object") return v;
    for (const k of Object.keys(v)) all.add(`${at}/${k}`);
    return new Proxy(v, {
      get(t, k, r) {
        const x = Reflect.get(t, k, r);
        if (typeof k !== "string" || !Object.hasOwn(t, k)) return x;
        read.add(`${at}/${k}`);
        return track(x, `${at}/${k}`);
      },
    });
  };
  schemaValidate(track(obj, ""));
  return [...all].filter((p) => !read.has(p));
}
const where = (e) => `${e.source}#${e.doc} ${e.object?.kind ?? "?"}/${e.object?.metadata?.name ?? "?"}`;
for (const e of entries) {
  const o = e.object;
  if (o === null || typeof o !== "object" || Array.isArray(o)) { problem(where(e), "not an object"); continue; }
  const found = await modelFor(o.apiVersion, o.kind);
  if (!found) { problem(where(e), `no schema for apiVersion ${o.apiVersion} kind ${o.kind}`); continue; }
  try { new found.Model(o).validate(); } catch (err) { problem(where(e), `schema: ${err.message}`); }
  if (!found.schemaValidate) problem(where(e), "cannot find the compiled schema to check for unknown fields");
  else for (const p of unknownFields(found.schemaValidate, o)) problem(where(e), `unknown field ${p}`);
  if (!o.metadata?.name) problem(where(e), "metadata.name is missing");
  if (!CLUSTER_SCOPED.has(o.kind) && !o.metadata?.namespace) problem(where(e), "namespaced object without metadata.namespace");
  if (CLUSTER_SCOPED.has(o.kind) && o.metadata?.namespace) problem(where(e), "cluster-scoped object with metadata.namespace");
}
const seen = new Map();
for (const e of entries) {
  const o = e.object ?? {};
  const key = `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
  if (seen.has(key)) problem(where(e), `duplicate of ${seen.get(key)}`); else seen.set(key, where(e));
}

// ---- kdbg checks ---------------------------------------------------------------------------------
const DEFAULT_EXPECT = {
  namespace: "kdbg-system",
  namespaceObject: false,
  agentImage: "registry.example.com/kdbg/kdbg-agent:0.1.0",
  controllerImage: "registry.example.com/kdbg/kdbg-controller:0.1.0",
  agentSecret: "kdbg-agent-tls",
  controllerSecret: "kdbg-controller-tls",
  certManager: false,
  networkPolicy: true,
  userRole: true,
  agentTolerations: [{ operator: "Exists" }],
  agentNodeSelector: { "kubernetes.io/os": "linux" },
  controllerNodeSelector: { "kubernetes.io/os": "linux" },
  // The keys controller/policy.h parses.
  policy: {
    protectedNamespaces: ["kube-system", "kube-public", "kube-node-lease"],
    defaultLease: "10m", maxLease: "30m", maxSessionsPerUser: 3, maxSessions: 100,
    maxPodsPerSession: 10,
    allowedScriptCommands: ["trace", "t", "break", "b", "on", "cond", "continue", "c"],
    attach: "allowed",
  },
  agentRuntimePaths: ["/run/containerd", "/run/crio"],
  agentResources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "1", memory: "1Gi" } },
  controllerResources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
};
const eq = (a, b) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}
const show = (v) => JSON.stringify(v);

if (checks === "kdbg") {
  const ex = { ...DEFAULT_EXPECT, ...(expectFile ? JSON.parse(fs.readFileSync(expectFile, "utf8")) : {}) };
  const objs = entries.map((e) => e.object);
  const find = (kind, name) => objs.find((o) => o?.kind === kind && o?.metadata?.name === name);
  const need = (kind, name) => { const o = find(kind, name); if (!o) problem("install", `${kind}/${name} is missing`); return o; };
  const expectEq = (w, what, got, want) => { if (!eq(got, want)) problem(w, `${what} is ${show(got)}, want ${show(want)}`); };
  const matches = (selector, labels) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) && Object.keys(selector ?? {}).length > 0;
  const ns = ex.namespace;

  for (const o of objs) {
    if (!CLUSTER_SCOPED.has(o?.kind) && o?.metadata?.namespace !== ns && o?.kind !== "RoleBinding") problem(`${o?.kind}/${o?.metadata?.name}`, `namespace is ${o?.metadata?.namespace}, want ${ns}`);
  }

  // Namespace and Pod Security.
  const nsObj = find("Namespace", ns);
  if (ex.namespaceObject) {
    if (!nsObj) problem("install", `Namespace ${ns} is missing`);
    else expectEq(`Namespace/${ns}`, "label pod-security.kubernetes.io/enforce", nsObj.metadata?.labels?.["pod-security.kubernetes.io/enforce"], "privileged");
  } else if (nsObj) problem(`Namespace/${ns}`, "present, but this install should not create its namespace");

  // Every pod template: the hardening common to all, host access only for the agent.
  const workloads = objs.filter((o) => ["DaemonSet", "Deployment", "StatefulSet", "Job", "CronJob", "Pod", "ReplicaSet"].includes(o?.kind));
  for (const w of workloads) {
    const id = `${w.kind}/${w.metadata?.name}`;
    const spec = w.kind === "Pod" ? w.spec : w.spec?.template?.spec;
    const isAgent = w.kind === "DaemonSet" && w.metadata?.name === "kdbg-agent";
    if (spec?.hostPID && !isAgent) problem(id, "hostPID is set: only the agent DaemonSet may share the host's PID namespace");
    if (isAgent && spec?.hostPID !== true) problem(id, "hostPID must be true: the agent attaches to host processes");
    if (spec?.hostNetwork) problem(id, "hostNetwork is set");
    if (spec?.hostIPC) problem(id, "hostIPC is set");
    const hostPathVols = new Map((spec?.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath.path]));
    if (!isAgent && hostPathVols.size) problem(id, `hostPath volumes ${show([...hostPathVols.values()])}: only the agent may mount host paths`);
    const containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
    for (const c of containers) {
      const cid = `${id} container ${c.name}`;
      const sc = c.securityContext ?? {};
      if (sc.privileged) problem(cid, "privileged");
      if (sc.allowPrivilegeEscalation !== false) problem(cid, "allowPrivilegeEscalation must be false");
      if (sc.readOnlyRootFilesystem !== true) problem(cid, "readOnlyRootFilesystem must be true");
      expectEq(cid, "capabilities.drop", sc.capabilities?.drop, ["ALL"]);
      expectEq(cid, "capabilities.add", sc.capabilities?.add ?? [], isAgent ? ["SYS_PTRACE", "DAC_READ_SEARCH", "KILL", "SYS_ADMIN"] : []);
      if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.cpu || !c.resources?.limits?.memory) problem(cid, "needs cpu and memory requests and limits");
      for (const m of c.volumeMounts ?? []) {
        if (!hostPathVols.has(m.name)) continue;
        // The agent writes its state dir, and /sys/fs/cgroup: Delve and the guardian join
        // <pod cgroup root>/kdbg-agent, outside the agent container's cgroup, so a kill of the whole
        // container does not take an attached Delve with it (docs/delve-engine.md).
        const writable = hostPathVols.get(m.name) === "/var/lib/kdbg-agent" ||
          (isAgent && (m.mountPath === "/var/lib/kdbg-agent" || m.mountPath === "/host/sys/fs/cgroup"));
        if (!writable && m.readOnly !== true) problem(cid, `host path ${hostPathVols.get(m.name)} is mounted writable`);
      }
    }
    if (!isAgent) {
      const psc = spec?.securityContext ?? {};
      if (psc.runAsNonRoot !== true) problem(id, "pod securityContext.runAsNonRoot must be true");
    }
  }

  // The agent DaemonSet.
  const ds = need("DaemonSet", "kdbg-agent");
  let agentPodLabels = {};
  if (ds) {
    const id = "DaemonSet/kdbg-agent";
    const spec = ds.spec.template.spec;
    agentPodLabels = ds.spec.template.metadata?.labels ?? {};
    expectEq(id, "pod label app.kubernetes.io/name", agentPodLabels["app.kubernetes.io/name"], "kdbg-agent");
    if (!matches(ds.spec.selector?.matchLabels, agentPodLabels)) problem(id, "selector does not match the pod template's labels");
    expectEq(id, "nodeSelector", spec.nodeSelector, ex.agentNodeSelector);
    expectEq(id, "tolerations", spec.tolerations ?? [], ex.agentTolerations);
    expectEq(id, "serviceAccountName", spec.serviceAccountName, "kdbg-agent");
    if (spec.automountServiceAccountToken !== false) problem(id, "automountServiceAccountToken must be false (the agent calls no API)");
    const c = spec.containers?.[0] ?? {};
    if (spec.containers?.length !== 1) problem(id, "want exactly one container");
    expectEq(id, "image", c.image, ex.agentImage);
    expectEq(id, "runAsUser", c.securityContext?.runAsUser, 0);
    expectEq(id, "args", c.args, ["serve", "--listen", "0.0.0.0:7443", "--node-name", "$(NODE_NAME)",
      "--tls-cert", "/etc/kdbg/tls/tls.crt", "--tls-key", "/etc/kdbg/tls/tls.key", "--tls-ca", "/etc/kdbg/tls/ca.crt",
      "--allowed-client", "kdbg-controller", "--state-dir", "/var/lib/kdbg-agent", "--health-listen", "0.0.0.0:7444",
      "--log-format", "json", "--dlv", "/usr/lib/kdbg/delve/v1.26.2/dlv,/usr/lib/kdbg/delve/v1.27.2/dlv", "--host-root", "/host"]);
    const envNode = (c.env ?? []).find((e) => e.name === "NODE_NAME");
    expectEq(id, "env NODE_NAME source", envNode?.valueFrom?.fieldRef?.fieldPath, "spec.nodeName");
    const port = (name) => (c.ports ?? []).find((p) => p.name === name);
    expectEq(id, "port grpc", port("grpc")?.containerPort, 7443);
    expectEq(id, "port health", port("health")?.containerPort, 7444);
    const probePort = (p) => (p?.httpGet?.port === "health" ? 7444 : p?.httpGet?.port);
    expectEq(id, "livenessProbe", [c.livenessProbe?.httpGet?.path, probePort(c.livenessProbe)], ["/healthz", 7444]);
    expectEq(id, "readinessProbe", [c.readinessProbe?.httpGet?.path, probePort(c.readinessProbe)], ["/readyz", 7444]);
    expectEq(id, "resources", c.resources, ex.agentResources);
    const vols = Object.fromEntries((spec.volumes ?? []).map((v) => [v.name, v]));
    const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    expectEq(id, "TLS secret at /etc/kdbg/tls", vols[mounts["/etc/kdbg/tls"]?.name]?.secret?.secretName, ex.agentSecret);
    const state = vols[mounts["/var/lib/kdbg-agent"]?.name];
    expectEq(id, "state dir volume", state?.hostPath?.path, "/var/lib/kdbg-agent");
    if (mounts["/var/lib/kdbg-agent"]?.readOnly) problem(id, "the state dir must be writable");
    for (const p of ["/sys/fs/cgroup", ...ex.agentRuntimePaths]) {
      const m = mounts[`/host${p}`];
      if (!m) { problem(id, `host ${p} is not mounted at /host${p}`); continue; }
      expectEq(id, `volume of /host${p}`, vols[m.name]?.hostPath?.path, p);
      if (p === "/sys/fs/cgroup") {
        if (m.readOnly === true) problem(id, "/host/sys/fs/cgroup must be writable (Delve and the guardian leave the container's cgroup)");
      } else if (m.readOnly !== true) {
        problem(id, `/host${p} must be read-only`);
      }
    }
    const hostPaths = (spec.volumes ?? []).filter((v) => v.hostPath).map((v) => v.hostPath.path).sort();
    expectEq(id, "host paths", hostPaths, ["/sys/fs/cgroup", "/var/lib/kdbg-agent", ...ex.agentRuntimePaths].sort());
  }

  // The controller Deployment and Service.
  const dep = need("Deployment", "kdbg-controller");
  let controllerPodLabels = {};
  if (dep) {
    const id = "Deployment/kdbg-controller";
    const spec = dep.spec.template.spec;
    controllerPodLabels = dep.spec.template.metadata?.labels ?? {};
    if (!matches(dep.spec.selector?.matchLabels, controllerPodLabels)) problem(id, "selector does not match the pod template's labels");
    expectEq(id, "serviceAccountName", spec.serviceAccountName, "kdbg-controller");
    expectEq(id, "nodeSelector", spec.nodeSelector, ex.controllerNodeSelector);
    const c = spec.containers?.[0] ?? {};
    expectEq(id, "image", c.image, ex.controllerImage);
    expectEq(id, "args", c.args, ["--listen", "0.0.0.0:7443", "--tls-cert", "/etc/kdbg/tls/tls.crt", "--tls-key", "/etc/kdbg/tls/tls.key",
      "--agent-ca", "/etc/kdbg/tls/ca.crt", "--agent-cert", "/etc/kdbg/tls/tls.crt", "--agent-key", "/etc/kdbg/tls/tls.key",
      "--agent-server-name", "kdbg-agent", "--agent-port", "7443", "--agent-namespace", ns, "--policy", "/etc/kdbg/policy.yaml",
      "--audit-log", "/var/log/kdbg/audit.log", "--log-format", "json"]);
    expectEq(id, "resources", c.resources, ex.controllerResources);
    const vols = Object.fromEntries((spec.volumes ?? []).map((v) => [v.name, v]));
    const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    expectEq(id, "TLS secret at /etc/kdbg/tls", vols[mounts["/etc/kdbg/tls"]?.name]?.secret?.secretName, ex.controllerSecret);
    const pm = mounts["/etc/kdbg/policy.yaml"];
    expectEq(id, "policy mount", [vols[pm?.name]?.configMap?.name, pm?.subPath], ["kdbg-policy", "policy.yaml"]);
    if (!mounts["/var/log/kdbg"]) problem(id, "no volume for the audit log at /var/log/kdbg");
    expectEq(id, "grpc port", (c.ports ?? []).find((p) => p.name === "grpc")?.containerPort, 7443);
  }
  const svc = need("Service", "kdbg-controller");
  if (svc) {
    const p = svc.spec?.ports ?? [];
    if (p.length !== 1 || p[0].port !== 443 || !(p[0].targetPort === "grpc" || p[0].targetPort === 7443)) problem("Service/kdbg-controller", `ports ${show(p)}, want 443 -> 7443`);
    if (!matches(svc.spec?.selector, controllerPodLabels)) problem("Service/kdbg-controller", "selector does not select the controller's pods");
    if (matches(svc.spec?.selector, agentPodLabels)) problem("Service/kdbg-controller", "selector selects agent pods");
  }

  // Policy ConfigMap.
  const cmEntry = entries.find((e) => e.object?.kind === "ConfigMap" && e.object?.metadata?.name === "kdbg-policy");
  if (!cmEntry) problem("install", "ConfigMap/kdbg-policy is missing");
  else expectEq("ConfigMap/kdbg-policy", "policy.yaml", cmEntry.embedded?.["policy.yaml"], ex.policy);

  // RBAC: exactly these rules.
  const normRules = (rules) => (rules ?? []).flatMap((r) => (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => (r.verbs ?? []).map((v) => `${g}|${res}|${v}`)))).sort();
  const cr = need("ClusterRole", "kdbg-controller");
  if (cr) expectEq("ClusterRole/kdbg-controller", "rules", normRules(cr.rules), [
    "authentication.k8s.io|tokenreviews|create", "authorization.k8s.io|subjectaccessreviews|create",
    "|pods|get", "|pods|list", "|pods|watch", "|events|create"].sort());
  const crb = need("ClusterRoleBinding", "kdbg-controller");
  if (crb) {
    expectEq("ClusterRoleBinding/kdbg-controller", "roleRef", crb.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "kdbg-controller" });
    expectEq("ClusterRoleBinding/kdbg-controller", "subjects", crb.subjects, [{ kind: "ServiceAccount", name: "kdbg-controller", namespace: ns }]);
  }
  const sessionRules = ["kdbg.io|debugsessions|create", "kdbg.io|debugsessions|delete", "kdbg.io|debugsessions|list"];
  const userRoles = { "kdbg-user": [...sessionRules, "kdbg.io|debugsessions/attach|create"].sort(), "kdbg-tracer": sessionRules };
  for (const [name, want] of Object.entries(userRoles)) {
    const ur = find("ClusterRole", name);
    if (ex.userRole) {
      if (!ur) problem("install", `ClusterRole/${name} is missing`);
      else expectEq(`ClusterRole/${name}`, "rules", normRules(ur.rules), want);
    } else if (ur) problem(`ClusterRole/${name}`, "present although userRole.create is off");
  }
  for (const o of objs.filter((o) => o?.kind === "ClusterRole" || o?.kind === "Role")) {
    for (const r of normRules(o.rules)) if (r.includes("*")) problem(`${o.kind}/${o.metadata?.name}`, `wildcard rule ${r}`);
  }
  for (const o of objs.filter((o) => o?.kind === "ServiceAccount")) {
    if (!["kdbg-agent", "kdbg-controller"].includes(o.metadata?.name)) problem(`ServiceAccount/${o.metadata?.name}`, "unexpected service account");
  }
  need("ServiceAccount", "kdbg-agent"); need("ServiceAccount", "kdbg-controller");

  // NetworkPolicy: only the controller reaches the agents' gRPC port.
  const np = find("NetworkPolicy", "kdbg-agent");
  if (ex.networkPolicy) {
    if (!np) problem("install", "NetworkPolicy/kdbg-agent is missing");
    else {
      const id = "NetworkPolicy/kdbg-agent";
      if (!matches(np.spec?.podSelector?.matchLabels, agentPodLabels)) problem(id, "podSelector does not select the agent pods");
      if (!(np.spec?.policyTypes ?? []).includes("Ingress")) problem(id, "policyTypes lacks Ingress");
      let grpcRules = 0;
      for (const rule of np.spec?.ingress ?? []) {
        const ports = (rule.ports ?? []).map((p) => p.port);
        if (ports.length === 0) problem(id, "an ingress rule opens every port");
        if (ports.includes(7443) || ports.includes("grpc")) {
          grpcRules++;
          const from = rule.from ?? [];
          if (from.length === 0) problem(id, "the gRPC port is open to every source");
          for (const peer of from) {
            if (peer.ipBlock || peer.namespaceSelector || !matches(peer.podSelector?.matchLabels, controllerPodLabels) || matches(peer.podSelector?.matchLabels, agentPodLabels)) {
              problem(id, `gRPC peer ${show(peer)} is not exactly the controller's pods`);
            }
          }
        } else if (!eq(ports, [7444])) problem(id, `unexpected ports ${show(ports)}`);
      }
      if (grpcRules !== 1) problem(id, `want one ingress rule for the gRPC port, got ${grpcRules}`);
    }
  } else if (np) problem("NetworkPolicy/kdbg-agent", "present although networkPolicy.enabled is off");

  // Certificates.
  const certs = objs.filter((o) => o?.apiVersion?.startsWith("cert-manager.io/"));
  if (ex.certManager) {
    const cc = need("Certificate", "kdbg-controller"), ac = need("Certificate", "kdbg-agent"), ca = need("Certificate", "kdbg-ca");
    need("Issuer", "kdbg-ca"); need("Issuer", "kdbg-selfsigned");
    if (cc) {
      expectEq("Certificate/kdbg-controller", "commonName", cc.spec.commonName, "kdbg-controller");
      expectEq("Certificate/kdbg-controller", "secretName", cc.spec.secretName, ex.controllerSecret);
      for (const u of ["server auth", "client auth"]) if (!(cc.spec.usages ?? []).includes(u)) problem("Certificate/kdbg-controller", `usages lack ${u}`);
      if (!(cc.spec.dnsNames ?? []).includes(`kdbg-controller.${ns}.svc`)) problem("Certificate/kdbg-controller", `dnsNames lack kdbg-controller.${ns}.svc`);
      expectEq("Certificate/kdbg-controller", "issuer", cc.spec.issuerRef?.name, "kdbg-ca");
    }
    if (ac) {
      expectEq("Certificate/kdbg-agent", "commonName", ac.spec.commonName, "kdbg-agent");
      expectEq("Certificate/kdbg-agent", "secretName", ac.spec.secretName, ex.agentSecret);
      if (!(ac.spec.usages ?? []).includes("server auth")) problem("Certificate/kdbg-agent", "usages lack server auth");
    }
    if (ca && ca.spec.isCA !== true) problem("Certificate/kdbg-ca", "isCA must be true");
  } else if (certs.length) problem("install", `cert-manager objects present although certManager is off: ${certs.map((o) => o.kind + "/" + o.metadata?.name)}`);
}

if (problems.length) {
  for (const p of problems) console.log(`FAIL ${p}`);
  console.log(`${problems.length} problem(s) in ${entries.length} object(s)`);
  process.exit(1);
}
console.log(`OK ${entries.length} object(s)${checks ? `, checks: ${checks}` : ""}`);
