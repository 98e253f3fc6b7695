import { promises as fs } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { SurvivalFacts } from './jobSurvival';

/** Where the probe reads; the tests point it at a fake tree. @default the machine's own */
export interface SurvivalProbeRoots {
  readonly proc: string;
  readonly etc: string;
  readonly varLib: string;
  readonly usrLib: string;
}

const machineRoots: SurvivalProbeRoots = { proc: '/proc', etc: '/etc', varLib: '/var/lib', usrLib: '/usr/lib' };

/**
 * Reads the facts {@link analyseSurvival} needs on this machine: the host's and the running jobs'
 * control groups, the init's name, logind's configuration, lingering and the session. Never
 * throws: what cannot be read is undefined. Only Linux has these files.
 */
export async function readSurvivalFacts(options: {
  readonly jobPids: readonly number[];
  readonly whenVSCodeCloses: SurvivalFacts['whenVSCodeCloses'];
  readonly stopGraceSeconds: number;
  readonly separateScopeEnabled: boolean;
  readonly separateScopeAvailable: boolean | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly roots?: SurvivalProbeRoots;
}): Promise<SurvivalFacts> {
  const roots = options.roots ?? machineRoots;
  const env = options.env ?? process.env;
  const linux = process.platform === 'linux' || options.roots !== undefined;
  const read = (path: string): Promise<string | undefined> =>
    linux ? fs.readFile(path, 'utf8').catch(() => undefined) : Promise.resolve(undefined);
  const supervisorCgroups: string[] = [];
  for (const pid of new Set(options.jobPids)) {
    const text = await read(join(roots.proc, String(pid), 'cgroup'));
    if (text !== undefined) supervisorCgroups.push(text);
  }
  const dropIns: string[] = [];
  for (const dir of [join(roots.usrLib, 'systemd', 'logind.conf.d'), join(roots.etc, 'systemd', 'logind.conf.d')]) {
    const names = linux ? await fs.readdir(dir).catch(() => [] as string[]) : [];
    for (const name of names.filter((entry) => entry.endsWith('.conf')).sort()) {
      const text = await read(join(dir, name));
      if (text !== undefined) dropIns.push(text);
    }
  }
  const mainConfig = await read(join(roots.etc, 'systemd', 'logind.conf'));
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = undefined;
  }
  const lingering =
    user === undefined || !linux
      ? undefined
      : await fs.access(join(roots.varLib, 'systemd', 'linger', user)).then(
          () => true,
          (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? false : undefined),
        );
  return {
    platform: process.platform,
    hostCgroup: await read(join(roots.proc, 'self', 'cgroup')),
    supervisorCgroups,
    initName: (await read(join(roots.proc, '1', 'comm')))?.trim(),
    logindConfigs: [...(mainConfig === undefined ? [] : [mainConfig]), ...dropIns],
    lingering,
    sessionId: env.XDG_SESSION_ID || undefined,
    whenVSCodeCloses: options.whenVSCodeCloses,
    stopGraceSeconds: options.stopGraceSeconds,
    separateScopeAvailable: options.separateScopeAvailable,
    separateScopeEnabled: options.separateScopeEnabled,
  };
}
