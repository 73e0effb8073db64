import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';

/**
 * Limits on what one GraphQL document may ask for, checked while parsing and validating, before anything
 * executes (graphql-armor). Generous for every operation a client or GraphiQL sends; tight enough that deep
 * nesting, alias bombs and token floods are refused in microseconds. They apply to HTTP, SSE and graphql-ws
 * alike, since all three go through the same envelop pipeline.
 */
export const DOCUMENT_LIMITS = {
  maxTokens: 2_000,
  maxDepth: 12,
  maxAliases: 15,
  maxDirectives: 20,
  maxCost: 5_000,
} as const;

export function hardeningPlugins(options: { introspection: boolean }) {
  const common = { exposeLimits: true };
  return [
    maxTokensPlugin({ n: DOCUMENT_LIMITS.maxTokens, ...common }),
    maxDepthPlugin({ n: DOCUMENT_LIMITS.maxDepth, flattenFragments: true, ...common }),
    maxAliasesPlugin({ n: DOCUMENT_LIMITS.maxAliases, ...common }),
    maxDirectivesPlugin({ n: DOCUMENT_LIMITS.maxDirectives, ...common }),
    costLimitPlugin({ maxCost: DOCUMENT_LIMITS.maxCost, ...common }),
    ...(options.introspection ? [] : [useDisableIntrospection()]),
  ];
}
