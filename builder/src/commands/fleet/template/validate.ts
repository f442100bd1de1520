// `fleet template validate`: the deployment templates file checked, every problem listed (fleet/templates.ts).
import { command } from '../../../command.ts';
import type { Context } from '../../../context.ts';
import { loadTemplates, templateLabel } from '../../../fleet/templates.ts';
import { TEMPLATES_FILE_OPTION } from '../../../options.ts';

export interface TemplateValidateOptions {
  file: string;
}

export const templateValidateCommand = command({
  command: 'validate',
  describe: 'check the templates file (every problem listed)',
  builder: (y) => y.option('file', TEMPLATES_FILE_OPTION),
}).runs(templateValidate);

export function templateValidate(a: TemplateValidateOptions, ctx: Context): void {
  const all = loadTemplates(a.file);
  ctx.result(
    {
      file: a.file,
      valid: true,
      templates: all.map((t) => ({ name: t.name, version: t.version, components: Object.keys(t.components).length })),
    },
    [
      `${a.file}: ${all.length} template version(s) valid`,
      ...all.map(
        (t) =>
          `  ${templateLabel(t.name, t.version)}: ${Object.entries(t.components)
            .map(([n, c]) => `${n} ${c.version}`)
            .join(', ')}`,
      ),
    ],
  );
}
