/**
 * Preloaded into every server under test (`node --expose-gc --import bench/lib/probe.ts ...`): answers
 * `{ cmd: 'memory' }` over the IPC channel with heap and RSS after two full garbage collections. The server's
 * own code is unchanged. `{ cmd: 'snapshot', path }` writes a heap snapshot there (after the same GCs), for
 * finding what an idle subscription holds. `{ cmd: 'profile-start' }` and `{ cmd: 'profile-stop', path }` take
 * a CPU profile of exactly the measured window (a `--cpu-prof` profile is written only at exit, and a server
 * with a backlog can be killed before it exits), through the inspector protocol in the server's own process; with
 * `alloc: true` (BENCH_ALLOC_PROFILE=1) also a sampling heap profile of the window (`.heapprofile`: who allocates).
 * `{ cmd: 'pauses' }` answers the garbage collections of 20 ms or more since the last ask (a latency tail's usual
 * suspect) and the event loop's longest delay over the same time.
 */
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';
import { writeHeapSnapshot } from 'node:v8';
import { PerformanceObserver, monitorEventLoopDelay, type PerformanceEntry } from 'node:perf_hooks';
const gc = (globalThis as { gc?: () => void }).gc;

let session: Session | null = null;
let sampling = false;

async function profileStart(alloc: boolean) {
  session ??= new Session();
  session.connect();
  await session.post('Profiler.enable');
  // 200 us: fine enough for per-event costs of tens of microseconds, without distorting them much.
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  if (alloc) {
    // Where the garbage comes from: a sampling heap profile of the same window (one sample per 32 KB allocated).
    await session.post('HeapProfiler.enable');
    // Collected objects too: the garbage is what costs GC time, and without these flags a sample is dropped
    // once its object dies, leaving only what survives the window.
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 32_768,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    sampling = true;
  }
  return true;
}

async function profileStop(path: string) {
  if (!session) return false;
  const { profile } = await session.post('Profiler.stop');
  await writeFile(path, JSON.stringify(profile));
  if (sampling) {
    const { profile: heap } = await session.post('HeapProfiler.stopSampling');
    await writeFile(path.replace(/\.cpuprofile$/, '') + '.heapprofile', JSON.stringify(heap));
    sampling = false;
  }
  session.disconnect();
  session = null;
  return path;
}

const LONG_GC_MS = 20;
let longGcs: Array<{ kind: number; ms: number }> = [];
const loopDelay = monitorEventLoopDelay({ resolution: 10 });

if (process.send) {
  loopDelay.enable();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>)
      if (entry.duration >= LONG_GC_MS) longGcs.push({ kind: entry.detail?.kind ?? 0, ms: Math.round(entry.duration) });
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (message: { cmd?: string; rid?: number; path?: string; alloc?: boolean }) => {
    const reply = (result: unknown) => process.send!({ rid: message.rid, result });
    const failed = (error: unknown) => process.send!({ rid: message.rid, error: String(error) });
    if (message?.cmd === 'profile-start') return void profileStart(message.alloc === true).then(reply, failed);
    if (message?.cmd === 'profile-stop') return void profileStop(message.path ?? 'server.cpuprofile').then(reply, failed);
    if (message?.cmd === 'pauses') {
      const answer = { gcs: longGcs, maxLoopDelayMs: Math.round(loopDelay.max / 1e6) };
      longGcs = [];
      loopDelay.reset();
      return reply(answer);
    }
    if (message?.cmd !== 'memory' && message?.cmd !== 'snapshot') return;
    const settle = async () => {
      for (let i = 0; i < 3; i += 1) {
        gc?.();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (message.cmd === 'snapshot') return reply(writeHeapSnapshot(message.path));
      const m = process.memoryUsage();
      reply({ heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers });
    };
    void settle();
  });
  // The channel must not keep a server alive that was asked to stop.
  (process as unknown as { channel?: { unref(): void } }).channel?.unref();
}
