// Deployment templates: a named, versioned set of Greengrass components kept as a YAML file in the
// operator's repo (the model of CDF greengrass2-provisioning's templates). One file holds any number
// of templates; (name, version) is unique. The template name and version are recorded on the
// deployment (deploymentName `<name>@<version>` and tags) so `fleet summary` can read them back.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { ConfigError } from '../../../common/errors.ts';

export const TAG_TEMPLATE = 'greengrass-image:template';
export const TAG_TEMPLATE_VERSION = 'greengrass-image:template-version';

export interface TemplateComponent {
  version: string;
  configuration?: { merge?: Record<string, unknown>; reset?: string[] };
  runWith?: { posixUser?: string };
}

export interface DeploymentTemplate {
  name: string;
  version: number;
  description?: string;
  components: Record<string, TemplateComponent>;
  deploymentPolicies?: { failureHandlingPolicy?: 'ROLLBACK' | 'DO_NOTHING'; componentUpdateTimeoutSeconds?: number };
}

const TEMPLATE_NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;
const COMPONENT_RE = /^[a-zA-Z0-9._-]{1,128}$/;
// Greengrass component versions are semantic versions (major.minor.patch, optional -prerelease / +build).
const SEMVER_RE = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Every problem in a templates document, as lines naming where (empty = valid). */
export function templateProblems(doc: unknown): string[] {
  if (!isMap(doc) || !Array.isArray(doc.templates)) return ['the file must be a mapping with a "templates" list'];
  const problems: string[] = [];
  const seen = new Set<string>();
  doc.templates.forEach((t: unknown, i: number) => {
    const at = `templates[${i}]`;
    if (!isMap(t)) {
      problems.push(`${at} is not a mapping`);
      return;
    }
    const name = t.name;
    const where = typeof name === 'string' ? `${at} (${name})` : at;
    if (typeof name !== 'string' || !TEMPLATE_NAME_RE.test(name))
      problems.push(`${where}: name must be 1-64 of [a-zA-Z0-9_-]`);
    if (!Number.isInteger(t.version) || (t.version as number) < 1)
      problems.push(`${where}: version must be a whole number >= 1`);
    const key = `${String(name)}@${String(t.version)}`;
    if (seen.has(key)) problems.push(`${where}: version ${String(t.version)} of ${String(name)} is defined twice`);
    seen.add(key);
    for (const k of Object.keys(t))
      if (!['name', 'version', 'description', 'components', 'deploymentPolicies'].includes(k))
        problems.push(`${where}: unknown key "${k}"`);
    if (!isMap(t.components) || Object.keys(t.components).length === 0) {
      problems.push(
        `${where}: components must be a non-empty mapping of component name to {version, configuration?, runWith?}`,
      );
    } else {
      for (const [cn, c] of Object.entries(t.components)) {
        const cw = `${where}: components.${cn}`;
        if (!COMPONENT_RE.test(cn)) problems.push(`${cw}: component name must be 1-128 of [a-zA-Z0-9._-]`);
        if (!isMap(c)) {
          problems.push(`${cw} must be a mapping with a version`);
          continue;
        }
        if (typeof c.version !== 'string' || !SEMVER_RE.test(c.version))
          problems.push(
            `${cw}.version must be a semantic version like 2.12.0 (quote it in YAML), got ${JSON.stringify(c.version)}`,
          );
        for (const k of Object.keys(c))
          if (!['version', 'configuration', 'runWith'].includes(k)) problems.push(`${cw}: unknown key "${k}"`);
        if (c.configuration !== undefined) {
          if (!isMap(c.configuration)) problems.push(`${cw}.configuration must be a mapping with merge and/or reset`);
          else {
            const { merge, reset, ...rest } = c.configuration;
            if (merge !== undefined && !isMap(merge)) problems.push(`${cw}.configuration.merge must be a mapping`);
            if (
              reset !== undefined &&
              !(Array.isArray(reset) && reset.every((p) => typeof p === 'string' && (p === '' || p.startsWith('/'))))
            ) {
              problems.push(`${cw}.configuration.reset must be a list of JSON pointers ("" or starting with /)`);
            }
            for (const k of Object.keys(rest)) problems.push(`${cw}.configuration: unknown key "${k}"`);
          }
        }
        if (
          c.runWith !== undefined &&
          !(
            isMap(c.runWith) &&
            (c.runWith.posixUser === undefined ||
              (typeof c.runWith.posixUser === 'string' &&
                /^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$/.test(c.runWith.posixUser)))
          )
        ) {
          problems.push(`${cw}.runWith.posixUser must be user or user:group`);
        }
      }
    }
    if (t.deploymentPolicies !== undefined) {
      const p = t.deploymentPolicies;
      if (!isMap(p)) problems.push(`${where}: deploymentPolicies must be a mapping`);
      else {
        if (
          p.failureHandlingPolicy !== undefined &&
          p.failureHandlingPolicy !== 'ROLLBACK' &&
          p.failureHandlingPolicy !== 'DO_NOTHING'
        )
          problems.push(`${where}: deploymentPolicies.failureHandlingPolicy must be ROLLBACK or DO_NOTHING`);
        if (
          p.componentUpdateTimeoutSeconds !== undefined &&
          !(Number.isInteger(p.componentUpdateTimeoutSeconds) && (p.componentUpdateTimeoutSeconds as number) > 0)
        )
          problems.push(`${where}: deploymentPolicies.componentUpdateTimeoutSeconds must be a positive whole number`);
        for (const k of Object.keys(p))
          if (!['failureHandlingPolicy', 'componentUpdateTimeoutSeconds'].includes(k))
            problems.push(`${where}: deploymentPolicies: unknown key "${k}"`);
      }
    }
  });
  return problems;
}

/** Read and validate a templates file; ConfigError (exit 3) listing every problem. */
export function loadTemplates(file: string): DeploymentTemplate[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read templates file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'templates-missing',
      { cause: err },
    );
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`, 'templates-yaml', {
      cause: err,
    });
  }
  const problems = templateProblems(doc);
  if (problems.length > 0)
    throw new ConfigError(`${file} is invalid:\n  - ${problems.join('\n  - ')}`, 'templates-invalid');
  return (doc as { templates: DeploymentTemplate[] }).templates;
}

/** The template `name` at `version`, or its highest version when none is given. */
export function pickTemplate(all: DeploymentTemplate[], name: string, version?: number): DeploymentTemplate {
  const same = all.filter((t) => t.name === name);
  if (same.length === 0)
    throw new ConfigError(
      `no template named ${JSON.stringify(name)} (have: ${[...new Set(all.map((t) => t.name))].join(', ') || 'none'})`,
      'template-unknown',
    );
  if (version === undefined) return same.reduce((a, b) => (b.version > a.version ? b : a));
  const t = same.find((x) => x.version === version);
  if (!t)
    throw new ConfigError(
      `template ${name} has no version ${version} (have: ${same.map((x) => x.version).join(', ')})`,
      'template-unknown',
    );
  return t;
}

export const templateLabel = (name: string, version: number | string) => `${name}@${version}`;

/** Parse a deploymentName written by `fleet deploy` back into (name, version). */
export function parseTemplateLabel(s: string | undefined): { name: string; version: number } | undefined {
  const m = /^([a-zA-Z0-9_-]{1,64})@(\d+)$/.exec(s ?? '');
  return m ? { name: m[1] as string, version: Number(m[2]) } : undefined;
}

/** The CreateDeployment request body for a template and a thing-group target. */
export function deploymentRequest(t: DeploymentTemplate, targetArn: string) {
  const components: Record<
    string,
    {
      componentVersion: string;
      configurationUpdate?: { merge?: string; reset?: string[] };
      runWith?: { posixUser: string };
    }
  > = {};
  for (const [name, c] of Object.entries(t.components)) {
    components[name] = {
      componentVersion: c.version,
      ...(c.configuration
        ? {
            configurationUpdate: {
              ...(c.configuration.merge ? { merge: JSON.stringify(c.configuration.merge) } : {}),
              ...(c.configuration.reset ? { reset: c.configuration.reset } : {}),
            },
          }
        : {}),
      ...(c.runWith?.posixUser ? { runWith: { posixUser: c.runWith.posixUser } } : {}),
    };
  }
  const p = t.deploymentPolicies;
  return {
    targetArn,
    deploymentName: templateLabel(t.name, t.version),
    components,
    ...(p
      ? {
          deploymentPolicies: {
            ...(p.failureHandlingPolicy ? { failureHandlingPolicy: p.failureHandlingPolicy } : {}),
            ...(p.componentUpdateTimeoutSeconds
              ? {
                  componentUpdatePolicy: {
                    timeoutInSeconds: p.componentUpdateTimeoutSeconds,
                    action: 'NOTIFY_COMPONENTS' as const,
                  },
                }
              : {}),
          },
        }
      : {}),
    tags: { [TAG_TEMPLATE]: t.name, [TAG_TEMPLATE_VERSION]: String(t.version) },
  };
}
