import { builder } from './builder.ts';

export const WebhookEventTypeEnum = builder.enumType('WebhookEventType', {
  description: 'Events a webhook endpoint can receive. The body\'s "type" is the value in lower-case dotted form (generation.completed).',
  values: {
    GENERATION_CREATED: { description: 'A generation was accepted and recorded.' },
    GENERATION_STARTED: { description: 'fal started working on it (status IN_PROGRESS).' },
    GENERATION_COMPLETED: { description: 'The video is ready (status COMPLETED); data.video has its stable URL.' },
    GENERATION_FAILED: { description: 'The generation failed (status FAILED); data.error says why.' },
    GENERATION_CANCELLED: { description: 'The generation was cancelled (status CANCELLED).' },
  } as const,
});
