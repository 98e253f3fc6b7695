import { assess, formatAssessment } from '../assess';
import { EXIT } from '../cliErrors';
import type { Command } from './command';
import { print } from './command';

export const verifyCommand: Command = {
  summary: 'check every store of the folder, read-only',
  usage: 'lifeline-store verify (--workspace PATH | --dir DIR) [--json]',
  help: [
    'Opens the queue, the history (with its archive shards and index) and the state store on a copy',
    'of their files, with the same recovery the extension runs, reads the journals of running jobs',
    'and every backup in full. Nothing in the folder changes.',
    '',
    'Exit status: 0 healthy, 2 repairable (damage that `repair` rebuilds from a good copy, nothing',
    'lost), 3 damaged (acknowledged data is lost: the report says what), 4 encrypted and no key.',
  ].join('\n'),
  flags: {},
  positional: [],
  async run(_args, context) {
    const assessment = await assess(context);
    print(context, assessment, formatAssessment(assessment));
    return assessment.verdict === 'healthy' ? EXIT.ok : assessment.verdict === 'repairable' ? EXIT.repairable : EXIT.dataLost;
  },
};
