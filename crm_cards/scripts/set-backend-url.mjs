#!/usr/bin/env node
// Sets the connector backend base URL everywhere HubSpot needs it: the one card-code constant,
// app-hsmeta.json (permittedUrls.fetch, auth.redirectUrls and support URLs that pointed at the old
// backend), the webhook target URL and the URL of every workflow action — and rewrites the v4 form
// of the workflow actions in ../workflows/ from them.
//
//   npm run set-backend-url -- https://connector.example.com
//   node scripts/set-backend-url.mjs https://connector.example.com [--project-dir DIR]
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  WORKFLOW_ACTIONS_DIR,
  WORKFLOW_ACTION_PATH,
  actionName,
  defaultOutDir,
  writeDefinitions,
} from './workflow-definitions.mjs';

export const DEFAULT_BACKEND_URL = 'https://hubwerk.example.com';
export const CONFIG_FILE = 'src/app/cards/lib/config.ts';
export const APP_META_FILE = 'src/app/app-hsmeta.json';
export const OAUTH_CALLBACK_PATH = '/oauth/hubspot/callback';
export const WEBHOOKS_META_FILE = 'src/app/webhooks/webhooks-hsmeta.json';
export const WEBHOOK_PATH = '/api/webhook/hubspot/events';

const CONSTANT_LINE = /^export const BACKEND_URL = '([^']*)';$/m;

/**
 * Returns the normalised URL (no trailing slash) or throws with a message a person can act on.
 * @param {string} raw
 * @returns {string}
 */
export function normaliseBackendUrl(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(raw)} (expected e.g. https://connector.example.com)`);
  }
  // hubspot.fetch only calls HTTPS URLs and never localhost.
  if (url.protocol !== 'https:') {
    throw new Error(`HubSpot only fetches https:// URLs, got ${url.protocol}//`);
  }
  if (url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]') {
    throw new Error('HubSpot does not fetch from localhost; use a public https URL (or a tunnel)');
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new Error('the backend URL must not carry a query, fragment or credentials');
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/**
 * @param {string} projectDir
 * @returns {string}
 */
export function readBackendUrl(projectDir) {
  const source = readFileSync(join(projectDir, CONFIG_FILE), 'utf8');
  const match = source.match(CONSTANT_LINE);
  if (!match || match[1] === undefined) {
    throw new Error(`${CONFIG_FILE}: no line "export const BACKEND_URL = '…';" found`);
  }
  return match[1];
}

/**
 * @param {string} projectDir
 * @param {string} rawUrl
 * @returns {{ oldUrl: string, url: string, files: string[] }}
 */
export function setBackendUrl(projectDir, rawUrl) {
  const url = normaliseBackendUrl(rawUrl);
  const configPath = join(projectDir, CONFIG_FILE);
  const metaPath = join(projectDir, APP_META_FILE);

  const oldUrl = readBackendUrl(projectDir);
  const source = readFileSync(configPath, 'utf8');
  const nextSource = source.replace(CONSTANT_LINE, `export const BACKEND_URL = '${url}';`);

  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  const config = meta.config ?? {};
  /** @param {unknown} value */
  const swap = (value) =>
    typeof value === 'string' && (value === oldUrl || value.startsWith(`${oldUrl}/`))
      ? url + value.slice(oldUrl.length)
      : value;

  config.permittedUrls = config.permittedUrls ?? {};
  const otherFetchUrls = /** @type {string[]} */ (config.permittedUrls.fetch ?? []).filter(
    (entry) => entry !== oldUrl && entry !== url,
  );
  config.permittedUrls.fetch = [url, ...otherFetchUrls];

  config.auth = config.auth ?? {};
  const callback = `${url}${OAUTH_CALLBACK_PATH}`;
  const otherRedirects = /** @type {string[]} */ (config.auth.redirectUrls ?? []).filter(
    (entry) => entry !== `${oldUrl}${OAUTH_CALLBACK_PATH}` && entry !== callback,
  );
  config.auth.redirectUrls = [callback, ...otherRedirects];

  if (config.support) {
    for (const key of ['documentationUrl', 'supportUrl']) {
      config.support[key] = swap(config.support[key]);
    }
  }
  meta.config = config;

  // Read and change everything first, so a broken file leaves every file as it was.
  /** @type {Array<[string, string]>} */
  const writes = [
    [CONFIG_FILE, nextSource],
    [APP_META_FILE, `${JSON.stringify(meta, null, 2)}\n`],
  ];
  if (existsSync(join(projectDir, WEBHOOKS_META_FILE))) {
    const text = readFileSync(join(projectDir, WEBHOOKS_META_FILE), 'utf8');
    writes.push([WEBHOOKS_META_FILE, replaceUrlField(WEBHOOKS_META_FILE, text, 'targetUrl', `${url}${WEBHOOK_PATH}`)]);
  }
  const actionsDir = join(projectDir, WORKFLOW_ACTIONS_DIR);
  const actionFiles = existsSync(actionsDir)
    ? readdirSync(actionsDir).filter((name) => name.endsWith('-hsmeta.json')).sort()
    : [];
  for (const entry of actionFiles) {
    const file = `${WORKFLOW_ACTIONS_DIR}/${entry}`;
    const text = readFileSync(join(projectDir, file), 'utf8');
    const action = JSON.parse(text)?.config?.actionUrl;
    let name;
    try {
      name = actionName(String(action));
    } catch {
      throw new Error(`${file}: config.actionUrl must end in the action name (…${WORKFLOW_ACTION_PATH}<action>)`);
    }
    writes.push([file, replaceUrlField(file, text, 'actionUrl', `${url}${WORKFLOW_ACTION_PATH}${name}`)]);
  }
  for (const [file, text] of writes) {
    writeFileSync(join(projectDir, file), text);
  }
  const files = writes.map(([file]) => file);
  const workflowsDir = defaultOutDir(projectDir);
  if (existsSync(workflowsDir)) {
    files.push(...writeDefinitions(projectDir, workflowsDir).map((name) => `../workflows/${name}`));
  }
  return { oldUrl, url, files };
}

/**
 * Replaces the value of the one `"key": "…"` line, keeping the file's own layout (these files are
 * edited by hand and reviewed as diffs).
 * @param {string} file
 * @param {string} text
 * @param {string} key
 * @param {string} value
 * @returns {string}
 */
function replaceUrlField(file, text, key, value) {
  const pattern = new RegExp(`("${key}"\\s*:\\s*)"[^"]*"`, 'g');
  const hits = text.match(pattern) ?? [];
  if (hits.length !== 1) {
    throw new Error(`${file}: expected exactly one "${key}" in the file, found ${hits.length}`);
  }
  return text.replace(pattern, (_match, head) => `${head}${JSON.stringify(value)}`);
}

/**
 * @param {string[]} argv
 * @returns {number}
 */
function main(argv) {
  const args = [...argv];
  let projectDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const dirFlag = args.indexOf('--project-dir');
  if (dirFlag !== -1) {
    projectDir = resolve(args[dirFlag + 1] ?? '');
    args.splice(dirFlag, 2);
  }
  const [rawUrl] = args;
  if (args.length !== 1 || rawUrl === undefined || rawUrl === '--help' || rawUrl === '-h') {
    console.error(
      `usage: npm run set-backend-url -- <https://backend.example.com> (default ${DEFAULT_BACKEND_URL})`,
    );
    return 2;
  }
  try {
    const { oldUrl, url, files } = setBackendUrl(projectDir, rawUrl);
    console.log(`backend URL: ${oldUrl} -> ${url}`);
    for (const file of files) {
      console.log(`updated ${file}`);
    }
    return 0;
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
