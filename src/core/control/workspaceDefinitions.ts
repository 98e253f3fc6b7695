import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { JobDefinition } from '../../shared/workspaceConfig';
import { AllowedFolders } from '../workspaceConfig/allowedFolders';
import { jobFoldersOutside } from '../workspaceConfig/jobFolders';
import { parseWorkspaceConfig, WORKSPACE_CONFIG_PATH } from '../workspaceConfig/workspaceConfigFile';
import type { Logger } from '../logger';

/** The job definitions of `.vscode/lifeline.json` as a process outside VS Code reads them. */
export interface DefinitionsRead {
  readonly definitions: readonly JobDefinition[];
  /** Why the file cannot be used (named field, line and column), or undefined. */
  readonly problem: string | undefined;
}

/** Where a control gets definitions from: the file itself here, the window's live copy in VS Code. */
export interface DefinitionSource {
  read(): Promise<DefinitionsRead>;
  /** Folders outside the workspace the definition would run in that no one has allowed yet. */
  foldersToAllow(definition: JobDefinition): Promise<string[]>;
}

/** Reads `.vscode/lifeline.json` afresh each time (a command line runs once; an agent server may run for hours). */
export class FileDefinitionSource implements DefinitionSource {
  private readonly allowed: AllowedFolders;

  constructor(
    private readonly workspaceFolder: string,
    storageDirectory: string,
    logger: Logger,
  ) {
    this.allowed = new AllowedFolders(storageDirectory, logger);
  }

  async read(): Promise<DefinitionsRead> {
    let text: string;
    try {
      text = await fs.readFile(join(this.workspaceFolder, WORKSPACE_CONFIG_PATH), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { definitions: [], problem: undefined };
      return { definitions: [], problem: `${WORKSPACE_CONFIG_PATH} cannot be read: ${(error as Error).message}` };
    }
    const result = parseWorkspaceConfig(text);
    return result.ok ? { definitions: result.config.jobs, problem: undefined } : { definitions: [], problem: result.message };
  }

  async foldersToAllow(definition: JobDefinition): Promise<string[]> {
    await this.allowed.load();
    const outside = jobFoldersOutside(definition, this.workspaceFolder).filter(
      (found) => !this.allowed.isAllowed(definition.name, found.folder),
    );
    return [...new Set(outside.map((found) => found.folder))];
  }
}
