-- History search: the prompt and the shot prompts (multiPrompt is [{ prompt, duration? }]) as one tsvector,
-- kept by PostgreSQL itself (a stored generated column, so every write path is covered and nothing can forget
-- it). The 'simple' configuration (no stemming, no stop words) because prompts come in any language; an
-- explicit configuration also makes to_tsvector immutable, which a generated column requires.
-- AlterTable
ALTER TABLE "Generation" ADD COLUMN     "searchVector" tsvector GENERATED ALWAYS AS (
    to_tsvector('simple'::regconfig, coalesce("prompt", ''))
    || to_tsvector('simple'::regconfig, coalesce(jsonb_path_query_array("multiPrompt", '$[*].prompt'), '[]'::jsonb))
) STORED;

-- CreateIndex
CREATE INDEX "Generation_searchVector_idx" ON "Generation" USING GIN ("searchVector");

-- CreateIndex
CREATE INDEX "Generation_endpointId_duration_generateAudio_completedAt_idx" ON "Generation"("endpointId", "duration", "generateAudio", "completedAt");
