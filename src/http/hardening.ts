import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

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
  // graphql-armor's cost grows 1.5x per level of nesting, so the nested pages clients really ask for (webhook
  // endpoints with their deliveries and each delivery's generation: about 11,000) need room; depth, tokens and
  // page-size caps bound the rest.
  maxCost: 25_000,
} as const;

export function hardeningPlugins(options: { introspection: boolean }) {
  const common = { exposeLimits: true };
  return [
    maxTokensPlugin({ n: DOCUMENT_LIMITS.maxTokens, ...common }),
    maxDepthPlugin({ n: DOCUMENT_LIMITS.maxDepth, flattenFragments: true, ...common }),
    maxAliasesPlugin({ n: DOCUMENT_LIMITS.maxAliases, ...common }),
    maxDirectivesPlugin({ n: DOCUMENT_LIMITS.maxDirectives, ...common }),
    costLimitPlugin({ maxCost: DOCUMENT_LIMITS.maxCost, ...common }),
    ...(options.introspection ? [] : [noIntrospection(), noSuggestions()]),
  ];
}

/**
 * Introspection refused by a validation rule on every operation. Yoga's useDisableIntrospection decides per
 * HTTP request (onRequestParse), which graphql-ws never goes through, so introspection stayed open there.
 */
function noIntrospection(): Plugin {
  return { onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) };
}

// graphql-js appends these to validation and coercion errors ("Did you mean "prompt"?"): with introspection
// off they would hand out the schema one field at a time.
const SUGGESTION = /\s*Did you mean .*\?$/s;

function withoutSuggestion<E extends Error>(error: E): E | GraphQLError {
  if (!(error instanceof GraphQLError) || !SUGGESTION.test(error.message)) return error;
  return new GraphQLError(error.message.replace(SUGGESTION, ''), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

/** Field, argument, type and enum suggestions removed from every error (validation and variable coercion). */
function noSuggestions(): Plugin {
  const clean = (errors: ReadonlyArray<GraphQLError> | undefined) => errors?.map(withoutSuggestion);
  return {
    onValidate:
      () =>
      ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map(withoutSuggestion));
      },
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if ('errors' in result && result.errors) setResult({ ...result, errors: clean(result.errors) });
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        if ('errors' in result && result.errors) setResult({ ...result, errors: clean(result.errors) });
      },
    }),
  };
}
