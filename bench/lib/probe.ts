/**
 * Preloaded into every server under test (`node --expose-gc --import bench/lib/probe.ts ...`): answers
 * `{ cmd: 'memory' }` over the IPC channel with heap and RSS after two full garbage collections. The server's
 * own code is unchanged. `{ cmd: 'snapshot', path }` writes a heap snapshot there (after the same GCs), for
 * finding what an idle subscription holds.
 */
import { writeHeapSnapshot } from 'node:v8';
const gc = (globalThis as { gc?: () => void }).gc;

if (process.send) {
  process.on('message', (message: { cmd?: string; rid?: number; path?: string }) => {
    if (message?.cmd !== 'memory' && message?.cmd !== 'snapshot') return;
    const settle = async () => {
      for (let i = 0; i < 3; i += 1) {
        gc?.();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (message.cmd === 'snapshot') return process.send!({ rid: message.rid, result: writeHeapSnapshot(message.path) });
      const m = process.memoryUsage();
      process.send!({ rid: message.rid, result: { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers } });
    };
    void settle();
  });
  // The channel must not keep a server alive that was asked to stop.
  (process as unknown as { channel?: { unref(): void } }).channel?.unref();
}
