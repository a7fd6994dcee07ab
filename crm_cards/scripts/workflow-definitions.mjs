#!/usr/bin/env node
// The workflow actions have one source: src/app/workflow-actions/*-hsmeta.json (what
// `hs project upload` registers). This script writes the same definitions in the body format of
// HubSpot's Automation Actions v4 API to ../workflows/ (for registering them through the API),
// or with --check fails when those files differ from what it would write.
//
//   npm run workflows               # rewrite ../workflows/*.json
//   npm run workflows -- --check    # exit 1 and name the files that drifted
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WORKFLOW_ACTIONS_DIR = 'src/app/workflow-actions';
export const WORKFLOW_ACTION_PATH = '/api/workflow-actions/';

/**
 * @param {string} projectDir
 * @returns {Array<{ file: string, meta: Record<string, any> }>}
 */
export function readActionMetas(projectDir) {
  const dir = join(projectDir, WORKFLOW_ACTIONS_DIR);
  if (!existsSync(dir)) {
    return [];
  }
  return readdirSync(dir)
    .filter((name) => name.endsWith('-hsmeta.json'))
    .sort()
    .map((name) => {
      const file = `${WORKFLOW_ACTIONS_DIR}/${name}`;
      const meta = JSON.parse(readFileSync(join(projectDir, file), 'utf8'));
      if (meta?.type !== 'workflow-action' || typeof meta?.config?.actionUrl !== 'string') {
        throw new Error(`${file}: not a workflow-action with a config.actionUrl`);
      }
      return { file, meta };
    });
}

/**
 * The action's name: the last segment of its URL (`…/api/workflow-actions/<name>`).
 * @param {string} actionUrl
 * @returns {string}
 */
export function actionName(actionUrl) {
  const { pathname } = new URL(actionUrl);
  const index = pathname.lastIndexOf(WORKFLOW_ACTION_PATH);
  const name = index === -1 ? '' : pathname.slice(index + WORKFLOW_ACTION_PATH.length);
  if (!/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new Error(`${actionUrl}: expected …${WORKFLOW_ACTION_PATH}<action-name>`);
  }
  return name;
}

/**
 * hsmeta `config` → v4 API body. The two forms differ only in `isPublished` / `published`, in
 * `supportedClients` (hsmeta only) and in `functions` (required by the API; the connector has none).
 * @param {Record<string, any>} config
 * @returns {Record<string, unknown>}
 */
export function toV4Definition(config) {
  /** @type {Record<string, unknown>} */
  const body = {
    actionUrl: config.actionUrl,
    published: config.isPublished === true,
    objectTypes: config.objectTypes ?? [],
  };
  if (config.objectRequestOptions) {
    body.objectRequestOptions = config.objectRequestOptions;
  }
  body.inputFields = config.inputFields ?? [];
  if (config.inputFieldDependencies) {
    body.inputFieldDependencies = config.inputFieldDependencies;
  }
  body.outputFields = config.outputFields ?? [];
  if (config.executionRules) {
    body.executionRules = config.executionRules;
  }
  body.functions = [];
  body.labels = config.labels ?? {};
  return body;
}

/**
 * File name → text of every v4 definition the project's workflow actions make.
 * @param {string} projectDir
 * @returns {Map<string, string>}
 */
export function renderDefinitions(projectDir) {
  const out = new Map();
  for (const { file, meta } of readActionMetas(projectDir)) {
    const name = `${actionName(meta.config.actionUrl)}.json`;
    if (out.has(name)) {
      throw new Error(`${file}: a second workflow action with the URL of ${name}`);
    }
    out.set(name, `${JSON.stringify(toV4Definition(meta.config), null, 2)}\n`);
  }
  return out;
}

/**
 * The v4 files in outDir this script owns: every *.json whose actionUrl is a connector action.
 * @param {string} outDir
 * @returns {string[]}
 */
const generatedFiles = (outDir) =>
  existsSync(outDir)
    ? readdirSync(outDir)
        .filter((name) => name.endsWith('.json'))
        .filter((name) => {
          try {
            const url = JSON.parse(readFileSync(join(outDir, name), 'utf8'))?.actionUrl;
            return typeof url === 'string' && url.includes(WORKFLOW_ACTION_PATH);
          } catch {
            return false;
          }
        })
    : [];

/**
 * @param {string} projectDir
 * @param {string} outDir
 * @returns {{ missing: string[], changed: string[], extra: string[] }}
 */
export function checkDefinitions(projectDir, outDir) {
  const wanted = renderDefinitions(projectDir);
  const missing = [];
  const changed = [];
  for (const [name, text] of wanted) {
    const path = join(outDir, name);
    if (!existsSync(path)) {
      missing.push(name);
    } else if (readFileSync(path, 'utf8') !== text) {
      changed.push(name);
    }
  }
  const extra = generatedFiles(outDir).filter((name) => !wanted.has(name));
  return { missing, changed, extra };
}

/**
 * Writes every definition and removes v4 files of actions the project no longer has.
 * @param {string} projectDir
 * @param {string} outDir
 * @returns {string[]} the files written or removed
 */
export function writeDefinitions(projectDir, outDir) {
  const wanted = renderDefinitions(projectDir);
  const touched = [];
  for (const name of generatedFiles(outDir).filter((file) => !wanted.has(file))) {
    rmSync(join(outDir, name));
    touched.push(name);
  }
  for (const [name, text] of wanted) {
    const path = join(outDir, name);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
      writeFileSync(path, text);
      touched.push(name);
    }
  }
  return touched;
}

/**
 * The repository's workflows/ folder next to the project.
 * @param {string} projectDir
 * @returns {string}
 */
export const defaultOutDir = (projectDir) => join(projectDir, '..', 'workflows');

/**
 * @param {string[]} argv
 * @returns {number}
 */
function main(argv) {
  const args = [...argv];
  /** @param {string} flag */
  const take = (flag) => {
    const index = args.indexOf(flag);
    if (index === -1) {
      return undefined;
    }
    const [, value] = args.splice(index, 2);
    return value;
  };
  const check = args.includes('--check');
  if (check) {
    args.splice(args.indexOf('--check'), 1);
  }
  const projectDir = resolve(take('--project-dir') ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const outDir = resolve(take('--out') ?? defaultOutDir(projectDir));
  if (args.length > 0) {
    console.error('usage: npm run workflows [-- --check] [--project-dir DIR] [--out DIR]');
    return 2;
  }
  try {
    if (check) {
      const { missing, changed, extra } = checkDefinitions(projectDir, outDir);
      const problems = [
        ...missing.map((name) => `missing: ${name}`),
        ...changed.map((name) => `differs: ${name}`),
        ...extra.map((name) => `no workflow action for: ${name}`),
      ];
      if (problems.length > 0) {
        console.error(`${basename(outDir)}/ is out of date with ${WORKFLOW_ACTIONS_DIR}/ (run npm run workflows):`);
        for (const line of problems) {
          console.error(`  ${line}`);
        }
        return 1;
      }
      console.log(`${basename(outDir)}/ matches ${WORKFLOW_ACTIONS_DIR}/`);
      return 0;
    }
    for (const name of writeDefinitions(projectDir, outDir)) {
      console.log(`updated ${basename(outDir)}/${name}`);
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
