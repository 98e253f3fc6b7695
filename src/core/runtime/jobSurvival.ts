/**
 * What running jobs survive on this machine, worked out from facts about the process (its control
 * group, its login session, the service manager) rather than assumed. Pure: every input is the text
 * of a file or a value the caller read (jobSurvivalProbe.ts reads them), so the tests feed it
 * the /proc files of machines they cannot be run on.
 *
 * Why the control group matters: a supervisor is detached (its own session and process group), so
 * no signal to VS Code's process tree reaches it, but systemd stops a unit by killing every process
 * in the unit's control group (KillMode=control-group, the default). A code-server started as a
 * systemd service takes its supervisors down with it on `systemctl restart`; a server started from
 * an SSH login lives in the session's scope, which logind kills at logout when KillUserProcesses
 * is on; a user service (under user@UID.service) stops with the user manager, when the last
 * session ends unless the user lingers (docs/storage-health.md).
 */

/** Where a process sits in systemd's tree, from its control group path. */
export type CgroupPlace =
  /** A system service (system.slice/code-server@me.service): stopped with its unit. */
  | { readonly kind: 'systemService'; readonly unit: string; readonly path: string }
  /** A login session's scope (user.slice/user-1000.slice/session-3.scope): killed at logout if logind says so. */
  | { readonly kind: 'session'; readonly session: string; readonly path: string }
  /** Under the user manager (user@1000.service/…): stopped with it, at the last logout unless lingering. */
  | { readonly kind: 'userManager'; readonly unit: string; readonly path: string }
  /** A transient scope outside any session (run-u12.scope, from systemd-run --scope). */
  | { readonly kind: 'scope'; readonly unit: string; readonly path: string }
  /** No systemd tree: the root group, a container's group, another init. Nothing stops the group as a unit. */
  | { readonly kind: 'none'; readonly path: string }
  | { readonly kind: 'unknown' };

/** The systemd part of a /proc/<pid>/cgroup file: the v2 line (`0::/…`), or v1's `name=systemd`. */
export function systemdCgroupPath(cgroupFile: string): string | undefined {
  let v2: string | undefined;
  let v1: string | undefined;
  for (const line of cgroupFile.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, , controllers, path] = match;
    if (controllers === 'name=systemd') v1 = path;
    else if (controllers === '' && match[1] === '0') v2 = path;
  }
  // On a hybrid hierarchy systemd keeps its tree in name=systemd; v2's `0::/` is then empty.
  if (v1 !== undefined && (v2 === undefined || v2 === '/')) return v1;
  return v2 ?? v1;
}

/** Classifies a systemd control group path. */
export function placeOfCgroup(path: string | undefined): CgroupPlace {
  if (path === undefined) return { kind: 'unknown' };
  const parts = path.split('/').filter((part) => part.length > 0);
  if (!parts.includes('system.slice') && !parts.includes('user.slice')) return { kind: 'none', path };
  const userManager = parts.findIndex((part) => /^user@\d+\.service$/.test(part));
  if (userManager >= 0) {
    const inner = parts.slice(userManager + 1).filter((part) => /\.(service|scope)$/.test(part));
    return { kind: 'userManager', unit: inner.at(-1) ?? parts[userManager]!, path };
  }
  const session = parts.find((part) => /^session-[^/]+\.scope$/.test(part));
  if (session) return { kind: 'session', session: session.slice('session-'.length, -'.scope'.length), path };
  const service = parts.filter((part) => part.endsWith('.service')).at(-1);
  if (service) return { kind: 'systemService', unit: service, path };
  const scope = parts.filter((part) => part.endsWith('.scope')).at(-1);
  if (scope) return { kind: 'scope', unit: scope, path };
  return { kind: 'none', path };
}

/**
 * logind's KillUserProcesses from logind.conf and its drop-ins (later files win), or undefined
 * when none sets it (then the build's default applies, which distributions differ on).
 */
export function killUserProcesses(configFiles: readonly string[]): boolean | undefined {
  let value: boolean | undefined;
  for (const file of configFiles) {
    let inLogin = false;
    for (const raw of file.split('\n')) {
      const line = raw.trim();
      if (line.startsWith('[')) inLogin = line === '[Login]';
      const match = inLogin ? /^KillUserProcesses\s*=\s*(\S+)/i.exec(line) : null;
      if (match) value = /^(1|yes|true|on)$/i.test(match[1]!);
    }
  }
  return value;
}

/** Everything the analysis reads; each undefined when it could not be read. */
export interface SurvivalFacts {
  readonly platform: NodeJS.Platform;
  /** /proc/self/cgroup of the extension host (in VS Code's server's group). */
  readonly hostCgroup: string | undefined;
  /** /proc/<pid>/cgroup of running jobs' processes (in their supervisors' group). */
  readonly supervisorCgroups: readonly string[];
  /** /proc/1/comm: `systemd` when systemd is the init. */
  readonly initName: string | undefined;
  /** logind.conf then its drop-ins, in the order logind reads them. */
  readonly logindConfigs: readonly string[];
  /** Whether /var/lib/systemd/linger/<user> exists. */
  readonly lingering: boolean | undefined;
  /** XDG_SESSION_ID of the host's environment. */
  readonly sessionId: string | undefined;
  /** `lifeline.jobs.whenVSCodeCloses` and its grace, in seconds. */
  readonly whenVSCodeCloses: 'finish' | 'stopAfterGrace';
  readonly stopGraceSeconds: number;
  /** Whether `systemd-run --user --scope` worked here (undefined: not tried). */
  readonly separateScopeAvailable: boolean | undefined;
  /** Whether `lifeline.supervisors.separateScope` is on. */
  readonly separateScopeEnabled: boolean;
}

/** `keeps`: jobs keep running; `stops`: they stop (and are resumable); `depends`/`unknown`: see `why`. */
export type SurvivalOutcome = 'keeps' | 'stops' | 'depends' | 'unknown';

export interface SurvivalAnswer {
  readonly event: 'reload' | 'hostCrash' | 'quit' | 'serviceRestart' | 'logout' | 'reboot';
  readonly label: string;
  readonly outcome: SurvivalOutcome;
  readonly why: string;
}

export interface SurvivalReport {
  readonly answers: readonly SurvivalAnswer[];
  readonly host: CgroupPlace;
  /** The running supervisors' places (one per distinct group); empty when no job runs. */
  readonly supervisors: readonly CgroupPlace[];
  /** Whether starting supervisors in their own scope would change an answer from `stops` (and it works here). */
  readonly suggestSeparateScope: boolean;
}

const RESUMABLE = 'they stop; the next window finds them interrupted and resumes them as lifeline.recovery.policy says';

/** The answers for this machine, from {@link SurvivalFacts}. */
export function analyseSurvival(facts: SurvivalFacts): SurvivalReport {
  const host = placeOfCgroup(facts.hostCgroup === undefined ? undefined : systemdCgroupPath(facts.hostCgroup));
  const supervisors = distinct(facts.supervisorCgroups.map((text) => placeOfCgroup(systemdCgroupPath(text))));
  // With no job running, new supervisors go where this process would start them.
  const separate = facts.separateScopeEnabled && facts.separateScopeAvailable === true;
  const planned: readonly CgroupPlace[] = supervisors.length > 0 ? supervisors : [separate ? separateScopePlace : host];
  const systemd = facts.initName === 'systemd';
  const service = worst(planned.map((place) => serviceRestart(place, host, systemd)));
  const logout = worst(planned.map((place) => logoutAnswer(place, facts, systemd)));
  const answers: SurvivalAnswer[] = [
    { event: 'reload', label: 'Reload Window', outcome: 'keeps', why: 'supervisors are detached from the extension host' },
    { event: 'hostCrash', label: 'Extension host crash', outcome: 'keeps', why: 'supervisors are detached from the extension host' },
    quitAnswer(facts),
    { event: 'serviceRestart', label: 'Restart of the service that runs VS Code’s server', ...service },
    { event: 'logout', label: 'Logout', ...logout },
    { event: 'reboot', label: 'Reboot', outcome: 'stops', why: `nothing runs through a reboot: ${RESUMABLE}` },
  ];
  const wouldHelp = !separate && (service.outcome === 'stops' || logout.outcome === 'stops' || logout.outcome === 'depends');
  return { answers, host, supervisors, suggestSeparateScope: wouldHelp && facts.separateScopeAvailable === true };
}

const separateScopePlace: CgroupPlace = { kind: 'scope', unit: 'lifeline-supervisor (systemd-run --user --scope)', path: '' };

function quitAnswer(facts: SurvivalFacts): SurvivalAnswer {
  if (facts.whenVSCodeCloses === 'finish') {
    return {
      event: 'quit',
      label: 'Quit VS Code',
      outcome: 'keeps',
      why: 'lifeline.jobs.whenVSCodeCloses is "finish": jobs run to their end',
    };
  }
  return {
    event: 'quit',
    label: 'Quit VS Code',
    outcome: 'stops',
    why: `lifeline.jobs.whenVSCodeCloses is "stopAfterGrace": jobs stop ${facts.stopGraceSeconds} s after no window holds the queue; ${RESUMABLE}`,
  };
}

type Outcome = Pick<SurvivalAnswer, 'outcome' | 'why'>;

function serviceRestart(place: CgroupPlace, host: CgroupPlace, systemd: boolean): Outcome {
  if (place.kind === 'unknown') return { outcome: 'unknown', why: 'the supervisors’ control group could not be read' };
  if (!systemd && place.kind === 'none') {
    return {
      outcome: 'keeps',
      why: 'no service manager stops a control group here: a server restart stops only the server’s own processes',
    };
  }
  const sameGroup = 'path' in place && 'path' in host && place.path !== '' && place.path === host.path;
  if (sameGroup && host.kind === 'systemService') {
    return {
      outcome: 'stops',
      why: `the supervisors share the server’s unit ${host.unit}; systemd stops every process in it (KillMode=control-group, the default): ${RESUMABLE}`,
    };
  }
  if (sameGroup && host.kind === 'userManager') {
    return {
      outcome: 'stops',
      why: `the supervisors share the server’s user unit ${host.unit}, which a restart stops whole: ${RESUMABLE}`,
    };
  }
  if (sameGroup) return { outcome: 'keeps', why: `the server runs in ${describePlace(host)}, not a service a restart stops as a whole` };
  return { outcome: 'keeps', why: `the supervisors run in ${describePlace(place)}, apart from the server’s ${describePlace(host)}` };
}

function logoutAnswer(place: CgroupPlace, facts: SurvivalFacts, systemd: boolean): Outcome {
  switch (place.kind) {
    case 'unknown':
      return { outcome: 'unknown', why: 'the supervisors’ control group could not be read' };
    case 'none':
      return systemd
        ? { outcome: 'unknown', why: 'the supervisors are outside systemd’s tree' }
        : { outcome: 'keeps', why: 'no login manager here ends processes at logout' };
    case 'systemService':
      return { outcome: 'keeps', why: `a system service (${place.unit}) does not end with a login session` };
    case 'session': {
      const kill = killUserProcesses(facts.logindConfigs);
      if (kill === true) {
        return {
          outcome: 'stops',
          why: `logind kills session ${place.session}’s processes at logout (KillUserProcesses=yes): ${RESUMABLE}`,
        };
      }
      if (kill === false) {
        return { outcome: 'keeps', why: `the supervisors are in login session ${place.session}, and KillUserProcesses=no` };
      }
      return {
        outcome: 'depends',
        why: `the supervisors are in login session ${place.session}; KillUserProcesses is not set, so logind’s built-in default decides (yes on some distributions)`,
      };
    }
    case 'userManager':
      if (facts.lingering === true) {
        return { outcome: 'keeps', why: 'the user manager keeps running after logout: lingering is on for this user' };
      }
      return {
        outcome: facts.lingering === false ? 'stops' : 'depends',
        why: `the supervisors run under the user manager (${place.unit}), which stops when the last session ends unless lingering is on (loginctl enable-linger)`,
      };
    case 'scope':
      return { outcome: 'keeps', why: `the supervisors run in their own scope (${place.unit})` };
  }
}

function describePlace(place: CgroupPlace): string {
  switch (place.kind) {
    case 'systemService':
      return `the system service ${place.unit}`;
    case 'session':
      return `login session ${place.session}`;
    case 'userManager':
      return `the user unit ${place.unit}`;
    case 'scope':
      return `the scope ${place.unit}`;
    case 'none':
      return `control group ${place.path}`;
    case 'unknown':
      return 'an unknown control group';
  }
}

const rank: Record<SurvivalOutcome, number> = { keeps: 0, unknown: 1, depends: 2, stops: 3 };

/** The least hopeful of the answers: one supervisor that stops is one job lost. */
function worst(outcomes: readonly Outcome[]): Outcome {
  return outcomes.reduce((a, b) => (rank[b.outcome] > rank[a.outcome] ? b : a));
}

function distinct(places: readonly CgroupPlace[]): CgroupPlace[] {
  const seen = new Map<string, CgroupPlace>();
  for (const place of places) seen.set(JSON.stringify(place), place);
  return [...seen.values()];
}
