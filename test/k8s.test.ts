// The Kubernetes manifests as an operator applies them: every overlay rendered by `kubectl
// kustomize`, every object validated against the Kubernetes schemas (kubernetes-models) and the
// KEDA ScaledObject schema, and the properties a cluster relies on checked on what was rendered.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { TASK_STREAM, poolConsumer } from '@tessera/protocol';
import * as apps from 'kubernetes-models/apps/v1';
import * as batch from 'kubernetes-models/batch/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as core from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const k8s = fileURLToPath(new URL('../k8s/', import.meta.url));
const OVERLAYS = ['base', 'overlays/dev', 'overlays/keda', 'overlays/gpu', 'overlays/keda-gpu', 'overlays/job'];

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML, read field by field
type K8sObject = Record<string, any>;

function render(dir: string): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', `${k8s}${dir}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(text).map((d) => {
    expect(d.errors, dir).toEqual([]);
    return d.toJS() as K8sObject;
  });
}

type Model = new (data: object) => { validate(): void };
/** The schemas of the API groups the manifests use; an object of any other group has none. */
const SCHEMAS: Record<string, Record<string, unknown>> = { v1: core, 'apps/v1': apps, 'batch/v1': batch, 'policy/v1': policy, 'keda.sh/v1alpha1': keda };
const modelOf = (o: K8sObject) => SCHEMAS[o.apiVersion]?.[o.kind] as Model | undefined;

const podSpec = (o: K8sObject): K8sObject | undefined =>
  o.kind === 'Job' || o.kind === 'Deployment' || o.kind === 'StatefulSet' ? o.spec.template.spec : undefined;
const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];

describe('k8s manifests', () => {
  const rendered = new Map(OVERLAYS.map((dir) => [dir, render(dir)]));

  it('every overlay renders, and every object is valid against its schema', () => {
    for (const [dir, objects] of rendered) {
      expect(objects.length, dir).toBeGreaterThan(0);
      for (const o of objects) {
        const Model = modelOf(o);
        expect(Model, `${dir}: no schema for ${o.apiVersion} ${o.kind}`).toBeDefined();
        expect(() => new Model!(o).validate(), `${dir}: ${o.kind}/${o.metadata.name}`).not.toThrow();
      }
    }
  });

  it('every container: probes, resource requests and a memory limit, non-root with a read-only root and no capabilities', () => {
    for (const [dir, objects] of rendered)
      for (const o of objects) {
        const spec = podSpec(o);
        if (!spec) continue;
        const where = `${dir}: ${o.kind}/${o.metadata.name}`;
        expect(spec.securityContext?.runAsNonRoot, where).toBe(true);
        expect(spec.automountServiceAccountToken ?? false, where).toBe(false);
        for (const c of spec.containers as K8sObject[]) {
          expect(c.livenessProbe, where).toBeDefined();
          if (o.kind !== 'Job') expect(c.readinessProbe, where).toBeDefined();
          expect(c.resources?.requests?.memory, where).toBeDefined();
          expect(c.resources?.limits?.memory, where).toBeDefined();
          expect(c.securityContext, where).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        }
      }
  });

  it('no RBAC (nothing calls the Kubernetes API); secrets referenced are the ones the dev overlay generates', () => {
    for (const [dir, objects] of rendered)
      expect(
        objects.filter((o) => /Role/.test(o.kind)).map((o) => o.kind),
        dir,
      ).toEqual([]);
    const dev = rendered.get('overlays/dev')!;
    const secrets = new Map(dev.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, Object.keys(o.data)]));
    const refs: K8sObject[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) k === 'secretKeyRef' ? refs.push(x as K8sObject) : walk(x);
    };
    walk(dev);
    expect(refs.length).toBeGreaterThanOrEqual(8);
    for (const r of refs) expect(secrets.get(r.name), r.name).toContain(r.key);
    // NATS takes its clients' credentials from the same secret
    const nats = dev.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'nats-config')!;
    expect(nats.data['nats.conf']).toMatch(/user: \$NATS_USER[\s\S]*password: \$NATS_PASSWORD/);
  });

  it('workers: every pool has its own consumer, a disruption budget, and a SIGTERM grace inside the pod grace period', () => {
    const objects = rendered.get('overlays/gpu')!;
    const workers = objects.filter((o) => o.kind === 'Deployment' && (o.spec.template.spec.containers[0].args as string[])[0] === 'worker');
    expect(workers.map((w) => flag(w.spec.template.spec.containers[0].args, '--pool')).sort()).toEqual(['cpu', 'gpu']);
    for (const w of workers) {
      const spec = w.spec.template.spec;
      expect(Number(flag(spec.containers[0].args, '--grace-seconds'))).toBeLessThan(spec.terminationGracePeriodSeconds);
      const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget' && o.spec.selector.matchLabels.app === w.spec.selector.matchLabels.app);
      expect(pdb, w.metadata.name).toBeDefined();
    }
    const gpu = workers.find((w) => flag(w.spec.template.spec.containers[0].args, '--pool') === 'gpu')!.spec.template.spec.containers[0];
    expect(gpu.args).toEqual(expect.arrayContaining(['--device', 'cuda']));
    expect(gpu.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(gpu.image).toMatch(/^tessera-gpu:/);
  });

  it("each ScaledObject scales a worker Deployment on the stream and the consumer of that Deployment's pool, as the code names them", () => {
    for (const dir of ['overlays/keda', 'overlays/keda-gpu']) {
      const objects = rendered.get(dir)!;
      const scaled = objects.filter((o) => o.kind === 'ScaledObject');
      expect(scaled.length).toBe(dir === 'overlays/keda' ? 1 : 2);
      for (const so of scaled) {
        const target = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === so.spec.scaleTargetRef.name);
        expect(target, so.metadata.name).toBeDefined();
        const pool = flag(target!.spec.template.spec.containers[0].args, '--pool') as 'cpu' | 'gpu';
        const m = so.spec.triggers[0].metadata;
        expect(so.spec.triggers[0].type).toBe('nats-jetstream');
        expect(m.stream).toBe(TASK_STREAM);
        expect(m.consumer).toBe(poolConsumer(pool));
        expect(m.natsServerMonitoringEndpoint).toMatch(/^nats\.[a-z-]+\.svc\.cluster\.local:8222$/);
      }
    }
  });

  it('the per-merge Job runs tessera merge over NATS on the recipe of its ConfigMap', () => {
    const objects = rendered.get('overlays/job')!;
    const job = objects.find((o) => o.kind === 'Job')!;
    const c = job.spec.template.spec.containers[0];
    expect(c.args.slice(0, 2)).toEqual(['merge', '/recipe/recipe.yaml']);
    expect(flag(c.args, '--nats')).toBe('nats://nats:4222');
    const cm = objects.find((o) => o.kind === 'ConfigMap')!;
    expect(job.spec.template.spec.volumes.find((v: K8sObject) => v.name === 'recipe').configMap.name).toBe(cm.metadata.name);
    expect(cm.data['recipe.yaml']).toMatch(/^merge_method: /m);
  });
});
