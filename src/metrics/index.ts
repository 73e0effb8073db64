import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ARCHIVE_OUTCOMES, FAL_OPERATIONS, FAL_OUTCOMES, FINISHED_STATUSES, SUBSCRIPTION_TRANSPORTS, type MetricsSink } from './types.ts';

export * from './types.ts';

export interface Metrics extends MetricsSink {
  /** This app instance's own registry (never prom-client's global one: several apps may share a process). */
  readonly registry: Registry;
  /** GraphQL phase and HTTP timings from Yoga's Prometheus plugin, on the same registry. */
  yogaPlugin(): Plugin;
}

/** Seconds; live log lines usually arrive within a poll interval or two of fal writing them. */
const LAG_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const created = new Counter({
    name: 'reelgraph_generations_created_total',
    help: 'Generations created (accepted and recorded) by this instance',
    registers,
  });
  const finished = new Counter({
    name: 'reelgraph_generations_finished_total',
    help: 'Generations this instance moved to a final status',
    labelNames: ['status'] as const,
    registers,
  });
  const trackedSources: Array<() => number> = [];
  new Gauge({
    name: 'reelgraph_generations_tracked',
    help: 'In-flight generations this instance follows at fal now',
    registers,
    collect() {
      this.set(trackedSources.reduce((sum, count) => sum + count(), 0));
    },
  });
  const falRequests = new Counter({
    name: 'reelgraph_fal_requests_total',
    help: 'Requests to fal by gateway operation and outcome',
    labelNames: ['operation', 'outcome'] as const,
    registers,
  });
  const logLines = new Counter({ name: 'reelgraph_log_lines_ingested_total', help: 'fal log lines stored by this instance', registers });
  const subscriptions = new Gauge({
    name: 'reelgraph_subscriptions_active',
    help: 'Open GraphQL subscriptions on this instance by transport',
    labelNames: ['transport'] as const,
    registers,
  });
  const lag = new Histogram({
    name: 'reelgraph_event_delivery_lag_seconds',
    help: "From fal's timestamp of a log line to its hand-off to subscribers",
    buckets: LAG_BUCKETS,
    registers,
  });
  const archive = new Counter({
    name: 'reelgraph_archive_attempts_total',
    help: 'Video archive attempts by the state they left the video in',
    labelNames: ['outcome'] as const,
    registers,
  });

  // Zero for every known label value from the start, so rate() and absent-series alerts see no gaps.
  for (const status of FINISHED_STATUSES) finished.inc({ status }, 0);
  for (const operation of FAL_OPERATIONS) for (const outcome of FAL_OUTCOMES) falRequests.inc({ operation, outcome }, 0);
  for (const transport of SUBSCRIPTION_TRANSPORTS) subscriptions.set({ transport }, 0);
  for (const outcome of ARCHIVE_OUTCOMES) archive.inc({ outcome }, 0);

  return {
    registry,
    yogaPlugin: () =>
      usePrometheus({
        registry,
        // Served by our own route (src/metrics/route.ts), which applies the access rules.
        endpoint: false,
        skipIntrospection: true,
        // Operation names, paths and URLs come from clients: as label values they would be unbounded.
        labels: { operationName: false, path: false, url: false },
        // Queries and mutations only. On a subscription these hooks wrap its event stream (a promise hop per
        // event per subscriber, the hottest path there is); subscriptions have their own series above.
        metrics: {
          graphql_envelop_request: ['execute'],
          graphql_envelop_request_duration: ['execute'],
          // A Summary computes its quantiles (a t-digest) on every observation, and the deprecated-field counter
          // walks every document with TypeInfo: together 2-3 % of a generateVideo's CPU in M4's profile (the walk
          // alone 2.3 % of a history page's in M6's). The duration histogram carries the same timings; the schema
          // deprecates nothing.
          graphql_envelop_request_time_summary: false,
          graphql_envelop_deprecated_field: false,
          // Parse and validate are answered from Yoga's document cache nearly always, and the context is built
          // from a caller authentication already resolved: three histograms per request (label sets, bucket
          // walks) that timed close to nothing. Execution and the whole request are timed above and below.
          graphql_envelop_phase_parse: false,
          graphql_envelop_phase_validate: false,
          graphql_envelop_phase_context: false,
          graphql_envelop_error_result: ['parse', 'validate', 'context', 'execute'],
          graphql_envelop_phase_subscribe: false,
        },
      }),
    generationCreated: () => created.inc(),
    generationFinished(status) {
      if ((FINISHED_STATUSES as readonly string[]).includes(status)) finished.inc({ status });
    },
    trackedBy: (count) => void trackedSources.push(count),
    falRequest: (operation, outcome) => falRequests.inc({ operation, outcome }),
    logLinesIngested: (count) => logLines.inc(count),
    eventHandedOff(falTimestamp) {
      const seconds = (Date.now() - falTimestamp.getTime()) / 1000;
      // fal's clock and ours differ a little: a line "from the future" was delivered at once.
      if (Number.isFinite(seconds)) lag.observe(Math.max(0, seconds));
    },
    subscriptionOpened(transport) {
      subscriptions.inc({ transport });
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        subscriptions.dec({ transport });
      };
    },
    archiveAttempt: (outcome) => archive.inc({ outcome }),
  };
}
