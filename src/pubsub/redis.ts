import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { BusEventTarget } from './index.ts';

/**
 * An EventTarget over Redis pub/sub: events published on any instance reach listeners on every instance.
 * Two connections, because a Redis connection in subscriber mode can do nothing else. ioredis reconnects
 * and re-subscribes by itself; events published while Redis is away can be lost, which subscribers repair
 * from the database (sequence numbers make the gap visible).
 */
export async function createRedisTarget(
  url: string,
): Promise<{ target: BusEventTarget; ping(): Promise<boolean>; close(): Promise<void> }> {
  const options = { maxRetriesPerRequest: null, enableAutoPipelining: true, lazyConnect: true } as const;
  const publishClient = new Redis(url, options);
  const subscribeClient = new Redis(url, options);
  // Without a listener ioredis prints every connection error; the reconnect loop handles them.
  for (const client of [publishClient, subscribeClient]) client.on('error', () => {});
  await Promise.all([publishClient.connect(), subscribeClient.connect()]);
  // The event target fires publish/subscribe/unsubscribe and never awaits them: once close() has disconnected
  // (a subscription ending during shutdown leaves its topic), each would reject unhandled ("Connection is
  // closed.") and take the process down. A publish lost that way is repaired from the database like any other.
  const ignore = () => 0;
  const target = createRedisEventTarget({
    publishClient: {
      publish: (channel: string, message: string) => publishClient.publish(channel, message).catch(ignore),
    } as unknown as Redis,
    subscribeClient: {
      on: (event: string, listener: (...args: unknown[]) => void) => subscribeClient.on(event, listener),
      subscribe: (channel: string) => subscribeClient.subscribe(channel).catch(ignore),
      unsubscribe: (channel: string) => subscribeClient.unsubscribe(channel).catch(ignore),
    } as unknown as Redis,
  }) as unknown as BusEventTarget;
  return {
    target,
    async ping() {
      try {
        return (
          (await Promise.race([publishClient.ping(), new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 1000))])) ===
          'PONG'
        );
      } catch {
        return false;
      }
    },
    close() {
      publishClient.disconnect();
      subscribeClient.disconnect();
      return Promise.resolve();
    },
  };
}
