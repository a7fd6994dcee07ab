import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  actionName,
  checkDefinitions,
  renderDefinitions,
  toV4Definition,
} from '../workflow-definitions.mjs';

const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKFLOWS_DIR = resolve(PROJECT_DIR, '..', 'workflows');
const SCRIPT = join(PROJECT_DIR, 'scripts', 'workflow-definitions.mjs');

describe('workflows/ (the v4 form of the workflow actions)', () => {
  it('is exactly what npm run workflows writes from the hsmeta files', () => {
    expect(checkDefinitions(PROJECT_DIR, WORKFLOWS_DIR)).toEqual({ missing: [], changed: [], extra: [] });
    const rendered = renderDefinitions(PROJECT_DIR);
    expect([...rendered.keys()].sort()).toEqual(
      readdirSync(WORKFLOWS_DIR).filter((name) => name.endsWith('.json')).sort(),
    );
  });

  it('maps isPublished to published, drops supportedClients and adds the empty functions', () => {
    const config = {
      actionUrl: 'https://x.example.com/api/workflow-actions/create-contract',
      isPublished: true,
      supportedClients: [{ client: 'WORKFLOWS' }],
      objectTypes: ['DEAL'],
      inputFields: [{ typeDefinition: { name: 'start_date', type: 'date', fieldType: 'date' } }],
      outputFields: [{ typeDefinition: { name: 'result', type: 'string', fieldType: 'text' } }],
      labels: { en: { actionName: 'billwerk: create contract' } },
    };
    expect(toV4Definition(config)).toEqual({
      actionUrl: config.actionUrl,
      published: true,
      objectTypes: ['DEAL'],
      inputFields: config.inputFields,
      outputFields: config.outputFields,
      functions: [],
      labels: config.labels,
    });
  });

  it('names each file after the last segment of its action URL', () => {
    expect(actionName('https://x.example.com/hubwerk/api/workflow-actions/execute-upgrade')).toBe('execute-upgrade');
    expect(() => actionName('https://x.example.com/api/cards/deals/1')).toThrow(/workflow-actions/);
  });
});

describe('npm run workflows', () => {
  let workDir: string;
  const project = () => join(workDir, 'crm_cards');
  const out = () => join(workDir, 'workflows');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [SCRIPT, '--project-dir', project(), ...args], { encoding: 'utf8' });

  beforeEach(() => {
    workDir = mkdtempSync(join(tmpdir(), 'hubwerk-workflows-'));
    cpSync(join(PROJECT_DIR, 'src'), join(project(), 'src'), { recursive: true });
    cpSync(WORKFLOWS_DIR, out(), { recursive: true });
  });

  afterEach(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  it('--check passes on the repository as it is', () => {
    const result = run('--check');
    expect(result.status, result.stderr).toBe(0);
  });

  it('--check names a definition that drifted from its hsmeta, and a rewrite fixes it', () => {
    const meta = join(project(), 'src/app/workflow-actions/validate-deal-hsmeta.json');
    const parsed = JSON.parse(readFileSync(meta, 'utf8'));
    parsed.config.labels.en.actionName = 'billwerk: check deal';
    writeFileSync(meta, JSON.stringify(parsed, null, 2));
    writeFileSync(join(out(), 'old-action.json'), JSON.stringify({ actionUrl: 'https://x/api/workflow-actions/old-action' }));

    const check = run('--check');
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('differs: validate-deal.json');
    expect(check.stderr).toContain('no workflow action for: old-action.json');

    const write = run();
    expect(write.status, write.stderr).toBe(0);
    expect(write.stdout).toContain('updated workflows/validate-deal.json');
    expect(JSON.parse(readFileSync(join(out(), 'validate-deal.json'), 'utf8')).labels.en.actionName).toBe(
      'billwerk: check deal',
    );
    expect(readdirSync(out())).not.toContain('old-action.json');
    // README.md and other files of workflows/ are not the script's
    expect(readdirSync(out())).toContain('README.md');
    expect(run('--check').status).toBe(0);
  });
});
