/**
 * One child process of FastSmtpShards (forked, with an IPC channel): a plain FastSmtpFleet for
 * the addresses the parent sends, answering its requests for counts. It has file descriptors
 * of its own, which is the point (20,000 per process here).
 */
import { FastSmtpFleet } from './fast-smtp.js';
import type { ShardReply, ShardRequest } from './fast-smtp-shards.js';

if (!process.send) {
  console.error('fast-smtp-child: start me through FastSmtpShards (child_process.fork with IPC)');
  process.exit(2);
}

let fleet: FastSmtpFleet | null = null;
const reply = (m: ShardReply) => process.send!(m);

// The parent gone (closed, crashed or killed) closes the channel: exit, leaving no listener behind.
process.on('disconnect', () => process.exit(0));

process.on('message', (m: ShardRequest) => {
  void handle(m).catch((e: unknown) => reply({ type: 'reply', id: m.id, error: { message: e instanceof Error ? e.message : String(e), code: (e as NodeJS.ErrnoException).code } }));
});

async function handle(m: ShardRequest): Promise<void> {
  switch (m.type) {
    case 'start':
      fleet = await FastSmtpFleet.start(m.addresses, m.options);
      reply({ type: 'reply', id: m.id, listeners: fleet.listeners });
      return;
    case 'stats':
      reply({ type: 'reply', id: m.id, stats: await requireFleet().readStats({ perListener: m.perListener }) });
      return;
    case 'reset':
      requireFleet().resetStats();
      reply({ type: 'reply', id: m.id });
      return;
    case 'close':
      // Exiting closes every listener and socket anyway; closing first ends connections cleanly.
      await fleet?.close();
      process.exit(0);
  }
}

function requireFleet(): FastSmtpFleet {
  if (!fleet) throw new Error('not started');
  return fleet;
}
