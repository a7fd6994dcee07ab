import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';
import { ALLOWED_TOP_LEVEL_FIELDS, Components } from '@hubspot/project-parsing-lib/constants';
import {
  isKnownPlatformVersion,
  parseProjectConfig,
} from '@hubspot/project-parsing-lib/projects';
import { translate } from '@hubspot/project-parsing-lib/translate';
import { validateUid } from '@hubspot/project-parsing-lib/uid';

import { BACKEND_URL } from '../src/app/cards/lib/config';

const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The connector's workflow actions, one project component each. */
const WORKFLOW_ACTIONS = [
  'validate-deal',
  'create-contract',
  'update-customer-from-company',
  'update-customer-from-contact',
  'create-upgrade-deal',
  'execute-upgrade',
  'import-customer',
];
const SRC_DIR = join(PROJECT_DIR, 'src');

/** The scopes the connector requests at install. */
const CONTRACT_SCOPES = [
  'oauth',
  ...['deals', 'companies', 'contacts', 'line_items', 'products'].flatMap((object) => [
    `crm.objects.${object}.read`,
    `crm.objects.${object}.write`,
  ]),
  ...['deals', 'companies', 'contacts'].map((object) => `crm.schemas.${object}.write`),
  'e-commerce',
  'automation',
];

const readJson = (path: string): Record<string, any> =>
  JSON.parse(readFileSync(join(PROJECT_DIR, path), 'utf8')) as Record<string, any>;

const hsMetaFilesOnDisk = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return hsMetaFilesOnDisk(path);
    return name.endsWith('-hsmeta.json') ? [relative(SRC_DIR, path).split(sep).join('/')] : [];
  });

const translateProject = async () => {
  const project = parseProjectConfig(PROJECT_DIR);
  // Schema validation needs an account and HubSpot's API (it downloads the schemas), so skip it.
  const result = await translate(
    { projectSourceDir: join(PROJECT_DIR, project.srcDir), platformVersion: project.platformVersion },
    { skipValidation: true },
  );
  return { project, ...result };
};

describe('HubSpot project', () => {
  it('is a 2026.03 project with srcDir "src"', () => {
    const project = parseProjectConfig(PROJECT_DIR);
    expect(project.srcDir).toBe('src');
    expect(project.platformVersion).toBe('2026.03');
    expect(isKnownPlatformVersion(project.platformVersion)).toBe(true);
  });

  it("parses with HubSpot's project-parsing-lib without errors", async () => {
    const { intermediateRepresentation, skippedHsMetaFiles } = await translateProject();
    const nodes = Object.values(intermediateRepresentation.intermediateNodesIndexedByUid);

    expect(skippedHsMetaFiles).toEqual([]);
    // A file that fails to parse yields no node, so every file on disk must have one.
    expect(nodes.map((node) => node.metaFilePath).sort()).toEqual(hsMetaFilesOnDisk(SRC_DIR).sort());

    for (const node of nodes) {
      const raw = readJson(join('src', node.metaFilePath));
      const allowed = new Set<string>(ALLOWED_TOP_LEVEL_FIELDS);
      expect(Object.keys(raw).filter((key) => !allowed.has(key))).toEqual([]);
      expect(validateUid(node.uid)).toBeUndefined();
      expect(node.config).toBeTruthy();
      // The lib's own directory rule: <parent dir>/<component dir>/<file>.
      const component = Components[String(raw.type)];
      expect(component, `${node.metaFilePath}: unknown type ${String(raw.type)}`).toBeDefined();
      const parentDir = component?.parentComponent
        ? Components[component.parentComponent]?.dir
        : '';
      expect(dirname(node.metaFilePath)).toBe(join(parentDir ?? '', component?.dir ?? ''));
    }
  });

  it('finds the app, both cards, the webhooks and the seven workflow actions, each depending on the app', async () => {
    const { intermediateRepresentation } = await translateProject();
    const byUid = intermediateRepresentation.intermediateNodesIndexedByUid;
    const features: Record<string, string> = {
      hubwerk_company_card: 'CARD',
      hubwerk_deal_card: 'CARD',
      hubwerk_webhooks: 'WEBHOOKS',
      ...Object.fromEntries(WORKFLOW_ACTIONS.map((name) => [`hubwerk_${name.replace(/-/g, '_')}`, 'WORKFLOW_ACTION'])),
    };

    expect(Object.keys(byUid).sort()).toEqual(['hubwerk_app', ...Object.keys(features)].sort());
    expect(byUid.hubwerk_app?.componentType).toBe('APPLICATION');
    for (const [uid, componentType] of Object.entries(features)) {
      expect(byUid[uid]?.componentType, uid).toBe(componentType);
      expect(byUid[uid]?.componentDeps.app, uid).toBe('hubwerk_app');
    }
  });
});

describe('workflow actions', () => {
  const metas = WORKFLOW_ACTIONS.map((name) => ({
    name,
    meta: readJson(`src/app/workflow-actions/${name}-hsmeta.json`),
  }));

  it.each(metas)('$name calls the backend, is published for workflows and speaks English and German', ({ name, meta }) => {
    expect(meta.type).toBe('workflow-action');
    expect(meta.config.actionUrl).toBe(`${BACKEND_URL}/api/workflow-actions/${name}`);
    expect(meta.config.isPublished).toBe(true);
    expect(meta.config.supportedClients).toEqual([{ client: 'WORKFLOWS' }]);
    expect(Object.keys(meta.config.labels).sort()).toEqual(['de', 'en']);
    const outputs = (meta.config.outputFields as Array<{ typeDefinition: { name: string } }>).map(
      (field) => field.typeDefinition.name,
    );
    expect(outputs.slice(0, 2)).toEqual(['result', 'message']);
    for (const locale of ['en', 'de']) {
      expect(Object.keys(meta.config.labels[locale].outputFieldLabels).sort(), locale).toEqual([...outputs].sort());
    }
  });
});

describe('app-hsmeta.json', () => {
  const app = readJson('src/app/app-hsmeta.json');

  it('is a marketplace OAuth app requesting exactly the contract scopes', () => {
    expect(app.type).toBe('app');
    expect(app.config.distribution).toBe('marketplace');
    expect(app.config.auth.type).toBe('oauth');
    expect([...app.config.auth.requiredScopes].sort()).toEqual([...CONTRACT_SCOPES].sort());
    expect(app.config.auth.requiredScopes).toHaveLength(CONTRACT_SCOPES.length);
    expect(app.config.support.supportEmail).toMatch(/@/);
  });

  it('permits and redirects to the same backend the card calls', () => {
    expect(app.config.permittedUrls.fetch).toEqual([BACKEND_URL]);
    expect(app.config.auth.redirectUrls).toEqual([`${BACKEND_URL}/oauth/hubspot/callback`]);
    expect(BACKEND_URL).toMatch(/^https:\/\/[^/]+(\/.*[^/])?$/);
  });
});

describe('webhooks-hsmeta.json', () => {
  const webhooks = readJson('src/app/webhooks/webhooks-hsmeta.json');

  // Which subscriptions exist is checked against the backend's dispatch table by
  // tests/backend/test_webhook_subscriptions.py; here: HubSpot's shape and the backend URL.
  it('sends the subscribed events to the backend webhook endpoint', () => {
    expect(webhooks.type).toBe('webhooks');
    expect(webhooks.config.settings.targetUrl).toBe(`${BACKEND_URL}/api/webhook/hubspot/events`);
    const rows = webhooks.config.subscriptions.legacyCrmObjects as Array<Record<string, unknown>>;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.active, JSON.stringify(row)).toBe(true);
      expect(String(row.subscriptionType)).toMatch(/^(company|contact|deal|line_item|product)\.[a-zA-Z]+$/);
    }
  });
});

describe.each([
  ['company-card-hsmeta.json', 'companies', '/app/cards/CompanyCard.tsx'],
  ['deal-card-hsmeta.json', 'deals', '/app/cards/DealCard.tsx'],
])('%s', (file, objectType, entrypoint) => {
  const card = readJson(`src/app/cards/${file}`);

  it(`sits on the ${objectType} record tab and points at ${entrypoint}`, () => {
    expect(card.type).toBe('card');
    expect(card.config.location).toBe('crm.record.tab');
    expect(card.config.objectTypes).toEqual([objectType]);
    expect(card.config.entrypoint).toBe(entrypoint);
    expect(statSync(join(SRC_DIR, card.config.entrypoint)).isFile()).toBe(true);
    expect(card.config.name).toBe('billwerk');
  });
});

describe('cards package', () => {
  const runtime = readJson('src/app/cards/package.json');
  const dev = readJson('package.json');

  it('pins the runtime dependencies, and tests run against the same versions', () => {
    expect(runtime.dependencies).toEqual({ '@hubspot/ui-extensions': '0.17.0', react: '18.3.1' });
    for (const [name, version] of Object.entries(runtime.dependencies as Record<string, string>)) {
      expect(dev.devDependencies[name], name).toBe(version);
    }
  });
});
