/**
 * Preloaded into every server under test (`node --expose-gc --import bench/lib/probe.ts ...`): answers
 * `{ cmd: 'memory' }` over the IPC channel with heap and RSS after two full garbage collections. The server's
 * own code is unchanged.
 */
const gc = (globalThis as { gc?: () => void }).gc;

if (process.send) {
  process.on('message', (message: { cmd?: string; rid?: number }) => {
    if (message?.cmd !== 'memory') return;
    const settle = async () => {
      for (let i = 0; i < 3; i += 1) {
        gc?.();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const m = process.memoryUsage();
      process.send!({ rid: message.rid, result: { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers } });
    };
    void settle();
  });
  // The channel must not keep a server alive that was asked to stop.
  (process as unknown as { channel?: { unref(): void } }).channel?.unref();
}
