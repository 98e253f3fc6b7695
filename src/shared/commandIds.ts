/**
 * The ids of Lifeline's own commands, in one place: every `registerCommand` and `executeCommand`
 * of them goes through this object. test/unit/commandIds.test.ts checks it against package.json's
 * `contributes.commands` both ways, so an id cannot be contributed without a constant, or the reverse.
 */
export const CommandIds = {
  showLog: 'lifeline.showLog',
  openQueuePanel: 'lifeline.openQueuePanel',
  runJob: 'lifeline.runJob',
  runShellCommand: 'lifeline.runShellCommand',
  cancelJob: 'lifeline.cancelJob',
  retryJob: 'lifeline.retryJob',
  resumeJob: 'lifeline.resumeJob',
  discardJob: 'lifeline.discardJob',
  resumeAllInterrupted: 'lifeline.resumeAllInterrupted',
  pauseQueue: 'lifeline.pauseQueue',
  resumeQueue: 'lifeline.resumeQueue',
  clearFinished: 'lifeline.clearFinished',
  showJobOutput: 'lifeline.showJobOutput',
  openJobDefinitions: 'lifeline.openJobDefinitions',
  showHistory: 'lifeline.showHistory',
  exportHistory: 'lifeline.exportHistory',
  archiveHistoryNow: 'lifeline.archiveHistoryNow',
  retrySaving: 'lifeline.retrySaving',
  cleanUpNow: 'lifeline.cleanUpNow',
  exportAuditLog: 'lifeline.exportAuditLog',
  showSavingStatus: 'lifeline.showSavingStatus',
  showStorageHealth: 'lifeline.showStorageHealth',
  verifyStorage: 'lifeline.verifyStorage',
  createBackup: 'lifeline.createBackup',
  restoreBackup: 'lifeline.restoreBackup',
  deleteBackup: 'lifeline.deleteBackup',
  exportBackup: 'lifeline.exportBackup',
  importBackup: 'lifeline.importBackup',
  enableEncryption: 'lifeline.enableEncryption',
  disableEncryption: 'lifeline.disableEncryption',
  exportRecoveryKey: 'lifeline.exportRecoveryKey',
  enterRecoveryKey: 'lifeline.enterRecoveryKey',
} as const;

export type CommandId = (typeof CommandIds)[keyof typeof CommandIds];
