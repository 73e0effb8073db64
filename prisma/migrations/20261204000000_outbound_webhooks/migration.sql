-- CreateEnum
CREATE TYPE "WebhookEventType" AS ENUM ('GENERATION_CREATED', 'GENERATION_STARTED', 'GENERATION_COMPLETED', 'GENERATION_FAILED', 'GENERATION_CANCELLED');

-- CreateEnum
CREATE TYPE "WebhookDeliveryStatus" AS ENUM ('PENDING', 'DELIVERED', 'RETRYING', 'FAILED');

-- CreateTable
CREATE TABLE "WebhookEndpoint" (
    "id" UUID NOT NULL,
    "tenantId" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "events" "WebhookEventType"[],
    "description" TEXT,
    "secretCiphertext" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WebhookEndpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookDelivery" (
    "id" UUID NOT NULL,
    "endpointId" UUID NOT NULL,
    "generationId" UUID NOT NULL,
    "tenantId" TEXT NOT NULL,
    "eventType" "WebhookEventType" NOT NULL,
    "snapshot" JSONB NOT NULL,
    "occurredAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "status" "WebhookDeliveryStatus" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "roundStart" INTEGER NOT NULL DEFAULT 0,
    "lastStatusCode" INTEGER,
    "lastError" TEXT,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deliveredAt" TIMESTAMP(3),
    "claimToken" TEXT,
    "claimExpiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WebhookDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookAttempt" (
    "id" UUID NOT NULL,
    "deliveryId" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "statusCode" INTEGER,
    "error" TEXT,
    "durationMs" INTEGER NOT NULL,
    "instanceId" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WebhookAttempt_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "WebhookEndpoint_tenantId_createdAt_id_idx" ON "WebhookEndpoint"("tenantId", "createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "WebhookDelivery_status_nextAttemptAt_idx" ON "WebhookDelivery"("status", "nextAttemptAt");

-- CreateIndex
CREATE INDEX "WebhookDelivery_endpointId_createdAt_id_idx" ON "WebhookDelivery"("endpointId", "createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "WebhookDelivery_generationId_idx" ON "WebhookDelivery"("generationId");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookAttempt_deliveryId_attempt_key" ON "WebhookAttempt"("deliveryId", "attempt");

-- AddForeignKey
ALTER TABLE "WebhookDelivery" ADD CONSTRAINT "WebhookDelivery_endpointId_fkey" FOREIGN KEY ("endpointId") REFERENCES "WebhookEndpoint"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebhookDelivery" ADD CONSTRAINT "WebhookDelivery_generationId_fkey" FOREIGN KEY ("generationId") REFERENCES "Generation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebhookAttempt" ADD CONSTRAINT "WebhookAttempt_deliveryId_fkey" FOREIGN KEY ("deliveryId") REFERENCES "WebhookDelivery"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The outbox, written by hand (Prisma has no notation for triggers; its differ ignores them): every path that
-- creates a generation or changes its status (submit, tracker, cancel, recovery, fal webhook) goes through this
-- trigger, so the delivery rows commit or roll back together with the transition. One row per endpoint of the
-- same tenant that asked for the event; the snapshot keeps what the event said at that moment.
CREATE FUNCTION "webhook_outbox_enqueue"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event "WebhookEventType";
BEGIN
    IF TG_OP = 'INSERT' THEN
        event := 'GENERATION_CREATED';
    ELSIF NEW."status" IS NOT DISTINCT FROM OLD."status" THEN
        RETURN NULL;
    ELSIF NEW."status" = 'IN_PROGRESS' THEN
        event := 'GENERATION_STARTED';
    ELSIF NEW."status" = 'COMPLETED' THEN
        event := 'GENERATION_COMPLETED';
    ELSIF NEW."status" = 'FAILED' THEN
        event := 'GENERATION_FAILED';
    ELSIF NEW."status" = 'CANCELLED' THEN
        event := 'GENERATION_CANCELLED';
    ELSE
        RETURN NULL;
    END IF;
    -- Ids are random (v4) here, not v7 like Prisma's: nothing orders by a delivery's id alone.
    INSERT INTO "WebhookDelivery" ("id", "endpointId", "generationId", "tenantId", "eventType", "snapshot", "occurredAt", "nextAttemptAt", "createdAt")
    SELECT gen_random_uuid(), e."id", NEW."id", NEW."tenantId", event,
           jsonb_build_object(
               'status', NEW."status",
               'prompt', NEW."prompt",
               'multiPrompt', NEW."multiPrompt",
               'duration', NEW."duration",
               'errorCode', NEW."errorCode",
               'errorMessage', NEW."errorMessage",
               'createdAt', NEW."createdAt",
               'startedAt', NEW."startedAt",
               'completedAt', NEW."completedAt"),
           timezone('UTC', now()), timezone('UTC', now()), timezone('UTC', now())
      FROM "WebhookEndpoint" e
     WHERE e."tenantId" = NEW."tenantId" AND event = ANY (e."events");
    RETURN NULL;
END;
$$;

CREATE TRIGGER "Generation_webhook_outbox"
    AFTER INSERT OR UPDATE OF "status" ON "Generation"
    FOR EACH ROW EXECUTE FUNCTION "webhook_outbox_enqueue"();
