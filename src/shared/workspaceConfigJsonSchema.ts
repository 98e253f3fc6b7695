import { z } from 'zod';
import { workspaceConfigSchema } from './workspaceConfig';

/** Called by esbuild.mjs at build time to write dist/lifeline.schema.json. */
export function workspaceConfigJsonSchema(): unknown {
  return {
    ...z.toJSONSchema(workspaceConfigSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'Lifeline workspace configuration (.vscode/lifeline.json)',
  };
}
