import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = join(PROJECT_DIR, 'scripts', 'set-backend-url.mjs');
const CONFIG = 'src/app/cards/lib/config.ts';
const APP_META = 'src/app/app-hsmeta.json';
const WEBHOOKS = 'src/app/webhooks/webhooks-hsmeta.json';

const WORKFLOW_ACTIONS = 'src/app/workflow-actions';

// A copy of the repository's layout: the project in crm_cards/, the v4 definitions next to it.
let repoDir: string;
let workDir: string;

const run = (...args: string[]) =>
  spawnSync(process.execPath, [SCRIPT, ...args, '--project-dir', workDir], { encoding: 'utf8' });

const read = (path: string) => readFileSync(join(workDir, path), 'utf8');
const actionUrls = () =>
  readdirSync(join(workDir, WORKFLOW_ACTIONS))
    .sort()
    .map((name) => JSON.parse(read(`${WORKFLOW_ACTIONS}/${name}`)).config.actionUrl as string);
const v4ActionUrls = () =>
  readdirSync(join(repoDir, 'workflows'))
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(repoDir, 'workflows', name), 'utf8')).actionUrl as string);
const appMeta = () => JSON.parse(read(APP_META)) as Record<string, any>;
const webhooks = () => JSON.parse(read(WEBHOOKS)) as Record<string, any>;

describe('set-backend-url', () => {
  beforeEach(() => {
    // Work on a copy: the test must never rewrite the real project files.
    repoDir = mkdtempSync(join(tmpdir(), 'hubwerk-cards-'));
    workDir = join(repoDir, 'crm_cards');
    cpSync(join(PROJECT_DIR, 'src'), join(workDir, 'src'), { recursive: true });
    cpSync(join(PROJECT_DIR, '..', 'workflows'), join(repoDir, 'workflows'), { recursive: true });
  });

  afterEach(() => {
    rmSync(repoDir, { recursive: true, force: true });
  });

  it('ships with the default backend URL', () => {
    expect(read(CONFIG)).toContain("export const BACKEND_URL = 'https://hubwerk.example.com';");
    expect(appMeta().config.permittedUrls.fetch).toEqual(['https://hubwerk.example.com']);
  });

  it('rewrites the card constant, permittedUrls, redirectUrls and support URLs', () => {
    const result = run('https://connector.example.com/');

    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('https://hubwerk.example.com -> https://connector.example.com');
    expect(read(CONFIG)).toContain("export const BACKEND_URL = 'https://connector.example.com';");
    expect(read(CONFIG)).not.toContain('hubwerk.example.com');
    const { config } = appMeta();
    expect(config.permittedUrls.fetch).toEqual(['https://connector.example.com']);
    expect(config.auth.redirectUrls).toEqual(['https://connector.example.com/oauth/hubspot/callback']);
    expect(config.support.supportUrl).toBe('https://connector.example.com/');
    expect(config.support.documentationUrl).toBe('https://connector.example.com/');
    // Nothing else in the app config moves.
    const original = JSON.parse(readFileSync(join(PROJECT_DIR, APP_META), 'utf8'));
    expect(config.auth.requiredScopes).toEqual(original.config.auth.requiredScopes);
    expect(config.support.supportEmail).toBe(original.config.support.supportEmail);
  });

  it('points the webhooks at the new backend and keeps the subscriptions as they were', () => {
    const before = webhooks();

    expect(run('https://connector.example.com/hubwerk').status).toBe(0);

    const after = webhooks();
    expect(after.config.settings.targetUrl).toBe(
      'https://connector.example.com/hubwerk/api/webhook/hubspot/events',
    );
    expect(after.config.subscriptions).toEqual(before.config.subscriptions);
    // Only the URL line changes: the file keeps its one-subscription-a-line layout.
    const changed = read(WEBHOOKS)
      .split('\n')
      .filter((line, i) => line !== readFileSync(join(PROJECT_DIR, WEBHOOKS), 'utf8').split('\n')[i]);
    expect(changed).toEqual([
      '      "targetUrl": "https://connector.example.com/hubwerk/api/webhook/hubspot/events",',
    ]);
  });

  it('points every workflow action at the new backend, in the project and in workflows/', () => {
    const names = readdirSync(join(workDir, WORKFLOW_ACTIONS))
      .sort()
      .map((name) => name.replace(/-hsmeta\.json$/, ''));
    expect(names).toHaveLength(7);

    const result = run('https://connector.example.com/hubwerk');

    expect(result.status, result.stderr).toBe(0);
    const wanted = names.map((name) => `https://connector.example.com/hubwerk/api/workflow-actions/${name}`);
    expect(actionUrls()).toEqual(wanted);
    expect(v4ActionUrls()).toEqual(wanted);
    expect(result.stdout).toContain('updated ../workflows/create-contract.json');
  });

  it('can be run again to move to another URL', () => {
    expect(run('https://one.example.com').status).toBe(0);
    expect(run('https://two.example.com/hubwerk').status).toBe(0);

    expect(read(CONFIG)).toContain("export const BACKEND_URL = 'https://two.example.com/hubwerk';");
    const { config } = appMeta();
    expect(config.permittedUrls.fetch).toEqual(['https://two.example.com/hubwerk']);
    expect(config.auth.redirectUrls).toEqual([
      'https://two.example.com/hubwerk/oauth/hubspot/callback',
    ]);
  });

  it.each([
    ['http://connector.example.com', /https/],
    ['https://localhost:5000', /localhost/],
    ['connector.example.com', /not a URL/],
    ['https://connector.example.com/?x=1', /query/],
  ])('refuses %s and changes nothing', (url, message) => {
    const before = [read(CONFIG), read(APP_META), read(WEBHOOKS), actionUrls(), v4ActionUrls()];

    const result = run(url);

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^error: /);
    expect(result.stderr).toMatch(message);
    expect([read(CONFIG), read(APP_META), read(WEBHOOKS), actionUrls(), v4ActionUrls()]).toEqual(before);
  });

  it('prints usage without a URL', () => {
    const result = run();
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/usage: npm run set-backend-url -- /);
  });
});
