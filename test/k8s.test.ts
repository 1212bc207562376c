// The Kubernetes manifests parse, and the names they share with the code agree.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TASK_STREAM, poolConsumer } from '@tessera/protocol';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const k8s = fileURLToPath(new URL('../k8s/', import.meta.url));
const docs = (dir: string) =>
  readdirSync(join(k8s, dir))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(k8s, dir, f), 'utf8')).map((d) => {
        expect(d.errors, f).toEqual([]);
        return d.toJS() as K8sObject;
      }),
    );
// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML, read field by field
type K8sObject = Record<string, any>;

describe('k8s manifests', () => {
  it('base: every kustomization resource exists; services run the CLI with the NATS service', () => {
    const base = docs('base');
    const kustomization = base.find((d) => d.kind === 'Kustomization')!;
    for (const r of kustomization.resources as string[]) expect(readdirSync(join(k8s, 'base'))).toContain(r);
    const deployments = base.filter((d) => d.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['tessera-coordinator', 'tessera-worker']);
    for (const d of deployments) expect(d.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['--nats', 'nats://nats:4222']));
  });
  it('the KEDA trigger watches the stream and consumer the workers pull from', () => {
    const so = docs('overlays/keda').find((d) => d.kind === 'ScaledObject')!;
    const m = so.spec.triggers[0].metadata;
    expect(m.stream).toBe(TASK_STREAM);
    expect(m.consumer).toBe(poolConsumer('cpu'));
  });
});
