import * as assert from 'node:assert/strict';
import { LifelineError } from '../../src/core/errors';
import { HistoryError } from '../../src/core/history/historyErrors';
import { JobError } from '../../src/core/queue/jobErrors';
import { RecoveryKeyError } from '../../src/core/storage/recoveryKey';
import { StorageError } from '../../src/core/storage/errors';
import { WorkspaceDirectoryError } from '../../src/core/storage/workspaceDirectory';

describe('typed errors', () => {
  it('carry their reason, message, cause and class name', () => {
    const cause = new Error('EIO');
    const error = new StorageError('ioError', 'The journal could not be written.', { cause });
    assert.ok(error instanceof Error);
    assert.ok(error instanceof LifelineError);
    assert.ok(error instanceof StorageError);
    assert.equal(error.reason, 'ioError');
    assert.equal(error.message, 'The journal could not be written.');
    assert.equal(error.cause, cause);
    assert.equal(error.name, 'StorageError');
    assert.equal(new JobError('disposed', 'gone').name, 'JobError');
    assert.equal(new HistoryError('closed', 'gone').name, 'HistoryError');
    assert.equal(new WorkspaceDirectoryError('manifestMismatch', 'not yours').name, 'WorkspaceDirectoryError');
    assert.equal(new JobError('disposed', 'gone').cause, undefined);
  });

  it('is() without a reason: any error of that class', () => {
    assert.equal(JobError.is(new JobError('jobNotFound', 'x')), true);
    assert.equal(JobError.is(new JobError('disposed', 'x')), true);
    assert.equal(JobError.is(new Error('x')), false);
    assert.equal(JobError.is('jobNotFound'), false);
    assert.equal(JobError.is(undefined), false);
    assert.equal(JobError.is({ reason: 'jobNotFound', name: 'JobError', message: 'x' }), false, 'a look-alike is not one');
  });

  it('is() with a reason: only that reason', () => {
    const error = new HistoryError('corruptShard', 'x');
    assert.equal(HistoryError.is(error, 'corruptShard'), true);
    assert.equal(HistoryError.is(error, 'corruptIndex'), false);
  });

  it('keeps the classes apart: a job error is not a storage error, nor the other way round', () => {
    const job = new JobError('storageFailed', 'x');
    const storage = new StorageError('closed', 'x');
    assert.equal(StorageError.is(job), false);
    assert.equal(HistoryError.is(job), false);
    assert.equal(WorkspaceDirectoryError.is(job), false);
    assert.equal(JobError.is(storage), false);
    assert.equal(HistoryError.is(storage), false);
    assert.equal(JobError.is(new HistoryError('closed', 'x')), false);
    // The same reason text in two classes does not make them one.
    assert.equal(StorageError.is(new HistoryError('closed', 'x'), 'closed'), false);
    assert.equal(LifelineError.is(job) && LifelineError.is(storage), true, 'both share the base');
    assert.equal(LifelineError.is(new Error('x')), false);
  });

  it('a subclass of a specialised error is still that error, with its reason', () => {
    const error = new RecoveryKeyError('checksumMismatch', 'mistyped');
    assert.equal(StorageError.is(error, 'invalidRecoveryKey'), true);
    assert.equal(error.name, 'StorageError');
    assert.equal(error.problem, 'checksumMismatch');
  });
});
