import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanJournal } from '../../../src/core/storage/journalFormat';
import { SupervisorRunner } from '../../../src/core/supervisors/supervisorRunner';
import { jobFilePaths } from '../../../src/shared/supervisor/node/jobFilePaths';
import { hostMessageSchema, jobRecordSchema, supervisorMessageSchema } from '../../../src/shared/supervisor/supervisorWire';
import { nextExit, runRequest } from '../runnerTestKit';
import { killSupervisorsOf, supervisorScript } from './supervisorTestKit';

/**
 * The wire format lives in src/shared/supervisor. What a real supervisor writes parses
 * with its schemas, record by record (the host's reader skips what does not parse, which would
 * hide a drift), and what builds before the move sent and wrote is still understood.
 */
describe('supervisor wire: the format on disk and on the socket', function () {
  this.timeout(20_000);
  let dir: string;
  let jobsDir: string;
  let runner: SupervisorRunner;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-wire-'));
    jobsDir = join(dir, 'jobs');
    runner = new SupervisorRunner({ jobsDir, supervisorScript, heartbeatMs: 50, pollMs: 50, idleExitMs: 1000 });
  });
  afterEach(async () => {
    await runner.dispose();
    killSupervisorsOf(jobsDir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('every record of a journal a supervisor wrote parses with the shared schema, and every kind is there', async () => {
    const done = nextExit(runner, 'w');
    // Long enough for several heartbeats at 50 ms; progress and checkpoint by line; then a failing stage.
    runner.start(runRequest(dir, 'w', ['echo "::lifeline progress 40 half"; echo "::lifeline checkpoint c1"; sleep 0.5', 'exit 3']));
    assert.equal((await done).exitCode, 3);
    const scan = scanJournal(readFileSync(jobFilePaths(jobsDir, 'w', 1).journalPath));
    assert.ok(typeof scan.header === 'object' && scan.damage === undefined, 'a whole journal');
    const records = scan.records.map((frame) => jobRecordSchema.parse(JSON.parse(Buffer.from(frame.payload).toString('utf8'))));
    assert.deepEqual([...new Set(records.map((record) => record.t))].sort(), [
      'checkpoint',
      'exited',
      'heartbeat',
      'progress',
      'stageFinished',
      'stageStarted',
      'started',
    ]);
    const exited = records.at(-1);
    assert.equal(exited?.t === 'exited' && exited.exitCode, 3);
  });

  it('records as a supervisor of the build before the move wrote them parse unchanged', () => {
    // Payloads in the exact form a supervisor of main 6984ece writes them (the record's fields, then
    // `at`); that build's own schema was checked to accept each one, to the same value.
    const lines = [
      '{"t":"started","jobId":"j","attempt":1,"supervisor":{"pid":4242,"startTime":"123456","host":"box"},"socketPath":"/run/user/1000/lifeline-sup-0123456789ab-0123456789ab.sock","fromStage":0,"at":1765000000000}',
      '{"t":"stageStarted","stage":0,"process":{"pid":4243,"startTime":"123460","host":"box"},"at":1765000000001}',
      '{"t":"heartbeat","at":1765000000050}',
      '{"t":"progress","fraction":0.4,"message":"half","at":1765000000060}',
      '{"t":"checkpoint","checkpoint":"c1","at":1765000000070}',
      '{"t":"stageFinished","stage":0,"exitCode":null,"signal":"SIGTERM","at":1765000000080}',
      '{"t":"exited","exitCode":null,"signal":"SIGTERM","error":"stopped because no VS Code window held the queue for 30 s","stoppedWithoutHost":{"afterMs":30000},"at":1765000000090}',
    ];
    for (const line of lines) assert.deepEqual(jobRecordSchema.parse(JSON.parse(line)), JSON.parse(line), line);
  });

  it('a run message as a host of the build before the move sent it (its stages carry the queue’s outputs and timeouts) is understood', () => {
    const line =
      '{"op":"run","request":{"jobId":"j","attempt":1,"fromStage":0,"stages":[{"name":"s0","command":"make","cwd":"/w","env":{"A":"1"},"outputs":["dist/a.js"],"timeoutMs":60000,"killGraceMs":100}],"checkpoint":"c"},"journalPath":"/j/j.1.journal","logPath":"/j/j.1.log","logLimitBytes":8388608,"heartbeatMs":5000,"killGraceMs":10000,"stopWithoutHost":{"afterMs":30000,"leaseDir":"/s","leaseStaleAfterMs":5000}}';
    const parsed = hostMessageSchema.parse(JSON.parse(line));
    assert.equal(parsed.op, 'run');
    assert.deepEqual(parsed.op === 'run' && parsed.request.stages, [
      { name: 's0', command: 'make', cwd: '/w', env: { A: '1' }, killGraceMs: 100 },
    ]);
    assert.deepEqual(parsed.op === 'run' && parsed.stopWithoutHost, { afterMs: 30000, leaseDir: '/s', leaseStaleAfterMs: 5000 });
  });

  it('invalid messages are still refused: an empty stage list, a negative grace, an unknown kind', () => {
    const run = {
      op: 'run',
      request: { jobId: 'j', attempt: 1, fromStage: 0, stages: [] },
      journalPath: '/j',
      logPath: '/l',
      logLimitBytes: 1,
      heartbeatMs: 1,
    };
    assert.equal(hostMessageSchema.safeParse(run).success, false);
    assert.equal(
      hostMessageSchema.safeParse({ ...run, request: { ...run.request, stages: [{ name: 's', command: 'c', cwd: '/' }] }, killGraceMs: -1 })
        .success,
      false,
    );
    assert.equal(
      hostMessageSchema.safeParse({ ...run, request: { ...run.request, stages: [{ name: 's', command: 'c', cwd: '/' }] } }).success,
      true,
    );
    assert.equal(supervisorMessageSchema.safeParse({ ev: 'hello', protocol: 2, pid: 1.5, job: null }).success, false);
    assert.equal(jobRecordSchema.safeParse({ t: 'unknown', at: 1 }).success, false);
  });
});
