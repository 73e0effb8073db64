/** The fal simulator every server under test uses as its upstream, in the load-generator process. */
import { createFalSimulator, type FalSimulator, type SimulatorBehaviour } from '../../src/fal/simulator/index.ts';
import { FAL_KEY } from './util.ts';

export interface BenchSim {
  sim: FalSimulator;
  /** Request ids submitted since the last take(). */
  take(): string[];
  /** Resumes every held request in `ids`. */
  resume(ids: string[]): void;
  stop(): Promise<void>;
}

export async function startSim(behaviour: Partial<SimulatorBehaviour>): Promise<BenchSim> {
  const sim = createFalSimulator({ preset: 'fast', expectedKey: FAL_KEY, keepaliveMs: 15_000, behaviour });
  await sim.start();
  let submitted: string[] = [];
  sim.events.on('submit', (request: { id: string }) => submitted.push(request.id));
  return {
    sim,
    take() {
      const ids = submitted;
      submitted = [];
      return ids;
    },
    resume(ids) {
      for (const id of ids) sim.resume(id);
    },
    stop: () => sim.stop(),
  };
}
