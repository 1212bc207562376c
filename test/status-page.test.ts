// The coordinator's status page in headless Chromium (Debian's chromium, driven by playwright-core)
// against real processes: a nats-server, a coordinator with a bearer token, a worker. The page
// shows a running job's progress, the planner's predictions for a planned job, and the live
// worker, and it updates without a reload; its data routes refuse calls without the token.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { predictionsComment } from '@tessera/planner';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { type NatsServer, startNats } from './support/nats.js';
import { type Service, spawnService } from './support/services.js';
import { writeSyntheticModel } from './support/synthetic.js';
import { tempDir } from './support/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const dir = tempDir('status-page');
let nats: NatsServer;
let coordinator: Service;
let worker: Service;
let browser: Browser;
let base: string;
let grpc: string;

beforeAll(async () => {
  for (const [k, m] of ['base', 'e1', 'e2'].entries())
    await writeSyntheticModel(join(dir, m), { layers: 4, hidden: 512, intermediate: 2304, vocab: 4096, heads: 8, kvHeads: 2 }, k);
  nats = await startNats();
  coordinator = spawnService(['coordinator', '--nats', nats.url, '--grpc', '127.0.0.1:0', '--token', 'sesame', '--http', '127.0.0.1:0']);
  base = `http://127.0.0.1:${(await coordinator.waitFor((l) => l.event === 'http')).port as number}`;
  grpc = `127.0.0.1:${(await coordinator.waitFor((l) => l.event === 'ready')).port as number}`;
  worker = spawnService(['worker', '--nats', nats.url, '--threads', '1', '--no-fsync']);
  await worker.waitFor((l) => l.event === 'started');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await worker?.kill('SIGKILL');
  await coordinator?.kill('SIGKILL');
  await nats?.stop();
});

describe('status page', () => {
  it('refuses its data without the bearer token; the page itself holds no data', async () => {
    expect((await fetch(`${base}/status`)).status).toBe(401);
    expect((await fetch(`${base}/events`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(`${base}/status`, { headers: { authorization: 'Bearer sesame' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ready: true, backlog: { cpu: 0, gpu: 0 } });
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it("shows a running job's progress, its predictions and the live worker, updating without a reload", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${base}/#token=sesame`);
    await page.evaluate(() => {
      (window as unknown as { loadedOnce: boolean }).loadedOnce = true;
    });
    await page.waitForSelector('tr[data-worker]');
    const recipe = join(dir, 'planned.yaml');
    writeFileSync(
      recipe,
      predictionsComment([
        {
          step: 'e1 + e2',
          chosen: 'della_0.5',
          candidates: [
            { candidate: 'della_0.5', score: 0.71 },
            { candidate: 'ta_1.0', score: 0.64 },
          ],
        },
      ]) +
        'merge_method: della_linear\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.5}}\n  - {model: e2, parameters: {weight: 1, density: 0.5}}\n',
    );
    // the job takes a few seconds: the worker is paused after a few merge tasks, so that the page
    // shows the job running part way; then it goes on
    let merged = 0;
    const paused = worker.waitFor((l) => l.event === 'task' && l.phase === 'merge' && ++merged === 5).then(() => worker.proc.kill('SIGSTOP'));
    const submitted = await tessera(['submit', recipe, '--out', join(dir, 'out'), '--server', grpc, '--token', 'sesame', '--slice-mb', '1', '--json']);
    expect(submitted.code, submitted.stderr).toBe(0);
    const job = (JSON.parse(submitted.stdout.split('\n')[0]!) as { job_id: string }).job_id;
    const row = `tr[data-job="${job}"]`;
    const progress = async () => Number((await page.textContent(`${row} .progress`))!.replace('%', ''));
    await paused;
    let first: number;
    try {
      // the job appears as running with some progress, then its progress grows on the same page
      await page.waitForFunction((sel) => {
        const r = document.querySelector(sel);
        return r?.children[1]?.textContent === 'running' && Number.parseFloat(r.querySelector('.progress')!.textContent!) > 0;
      }, row);
      first = await progress();
    } finally {
      worker.proc.kill('SIGCONT');
    }
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(100);
    await page.waitForFunction(
      ([sel, p]) => Number.parseFloat(document.querySelector(`${sel} .progress`)!.textContent!) > Number(p),
      [row, String(first)] as const,
      {
        timeout: 60_000,
      },
    );
    expect(await progress()).toBeGreaterThan(first);
    expect(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    const plan = await page.textContent('tr.plan');
    expect(plan).toContain('e1 + e2');
    expect(plan).toContain('della_0.5 0.710');
    expect(plan).toContain('ta_1.0 0.640');
    const workerRow = await page.textContent('tr[data-worker]');
    expect(workerRow).toContain('cpu');
    expect(await page.textContent('#summary')).toContain('1 live worker(s)');
    const shots = join(dir, 'screenshots');
    mkdirSync(shots, { recursive: true });
    const shot = join(shots, 'status-page.png');
    await page.screenshot({ path: process.env.TESSERA_SCREENSHOT ?? shot, fullPage: true });
    expect(statSync(process.env.TESSERA_SCREENSHOT ?? shot).size).toBeGreaterThan(10_000);
    // and the end of the job reaches the page too
    await page.waitForFunction((sel) => document.querySelector(sel)?.children[1]?.textContent === 'done', row, { timeout: 90_000 });
    expect(await progress()).toBe(100);
    expect(existsSync(join(dir, 'out', 'model.safetensors'))).toBe(true);
  }, 180_000);
});
