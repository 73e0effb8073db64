-- CreateEnum
CREATE TYPE "GenerationStatus" AS ENUM ('PENDING', 'IN_QUEUE', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "FalBackend" AS ENUM ('FAL', 'SIMULATOR');

-- CreateEnum
CREATE TYPE "GenerationEventKind" AS ENUM ('STATUS', 'LOG');

-- CreateTable
CREATE TABLE "Generation" (
    "id" UUID NOT NULL,
    "tenantId" TEXT NOT NULL DEFAULT 'default',
    "status" "GenerationStatus" NOT NULL DEFAULT 'PENDING',
    "backend" "FalBackend" NOT NULL,
    "endpointId" TEXT NOT NULL,
    "falRequestId" TEXT,
    "queuePosition" INTEGER,
    "imageUrl" TEXT NOT NULL,
    "endImageUrl" TEXT,
    "prompt" TEXT,
    "multiPrompt" JSONB,
    "duration" INTEGER NOT NULL,
    "generateAudio" BOOLEAN NOT NULL,
    "shotType" TEXT NOT NULL,
    "falInput" JSONB NOT NULL,
    "lastSequence" INTEGER NOT NULL DEFAULT 0,
    "errorCode" TEXT,
    "errorMessage" TEXT,
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),

    CONSTRAINT "Generation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "GenerationEvent" (
    "generationId" UUID NOT NULL,
    "sequence" INTEGER NOT NULL,
    "kind" "GenerationEventKind" NOT NULL,
    "status" "GenerationStatus",
    "queuePosition" INTEGER,
    "logMessage" TEXT,
    "logLevel" TEXT,
    "logTimestamp" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "GenerationEvent_pkey" PRIMARY KEY ("generationId","sequence")
);

-- CreateTable
CREATE TABLE "VideoOutput" (
    "generationId" UUID NOT NULL,
    "sourceUrl" TEXT NOT NULL,
    "contentType" TEXT,
    "fileName" TEXT,
    "fileSize" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "VideoOutput_pkey" PRIMARY KEY ("generationId")
);

-- CreateIndex
CREATE UNIQUE INDEX "Generation_falRequestId_key" ON "Generation"("falRequestId");

-- CreateIndex
CREATE INDEX "Generation_createdAt_id_idx" ON "Generation"("createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "Generation_tenantId_createdAt_id_idx" ON "Generation"("tenantId", "createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "Generation_status_idx" ON "Generation"("status");

-- CreateIndex
CREATE INDEX "GenerationEvent_generationId_kind_sequence_idx" ON "GenerationEvent"("generationId", "kind", "sequence");

-- AddForeignKey
ALTER TABLE "GenerationEvent" ADD CONSTRAINT "GenerationEvent_generationId_fkey" FOREIGN KEY ("generationId") REFERENCES "Generation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "VideoOutput" ADD CONSTRAINT "VideoOutput_generationId_fkey" FOREIGN KEY ("generationId") REFERENCES "Generation"("id") ON DELETE CASCADE ON UPDATE CASCADE;
