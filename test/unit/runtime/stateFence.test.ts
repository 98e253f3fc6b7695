import * as assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOT_HOLDER, ServiceError } from '../../../src/core/session/sessionServices';
import { LEASE_FILE } from '../../../src/shared/supervisor/node/leaseFile';
import { useRuntimeFolders } from './runtimeTestKit';

describe('WorkspaceRuntime: the state store is fenced by the lease', function () {
  this.timeout(30_000);
  const folders = useRuntimeFolders();

  it('a holder whose lease was taken over before its heartbeat noticed writes nothing to the state store; reads still answer', async () => {
    // No heartbeat in the test's time, and every fence check reads the lease file (staleness 0).
    const runtime = await folders.open({ overrides: { lease: { heartbeatMs: 600_000, staleAfterMs: 0 } } });
    const state = await runtime.openState('fence.test');
    await state.set('before', 1);
    const handle = runtime.services.stateStore?.handle;
    assert.ok(handle);

    // Another process took the lease over (its activation is in the file now).
    const path = join(runtime.storageDirectory, LEASE_FILE);
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), activationId: 'another-window' }));

    await assert.rejects(handle({ op: 'write', namespace: 'fence.test', operations: [{ key: 'after', value: 2 }] }), (error) =>
      ServiceError.is(error, NOT_HOLDER),
    );
    const store = await runtime.services.stateStore?.whenOpen();
    assert.equal(store?.exists('fence.test', 'after'), false, 'nothing was written');
    assert.deepEqual(await handle({ op: 'get', namespace: 'fence.test', key: 'before' }), { found: true, value: 1 });
  });
});
