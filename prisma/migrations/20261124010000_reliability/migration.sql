-- CreateEnum
CREATE TYPE "ArchiveStatus" AS ENUM ('PENDING', 'RETRYING', 'ARCHIVED', 'FAILED');

-- AlterTable
ALTER TABLE "Generation" ADD COLUMN     "cancelRequestedAt" TIMESTAMP(3),
ADD COLUMN     "deadlineAt" TIMESTAMP(3),
ADD COLUMN     "idempotencyHash" TEXT,
ADD COLUMN     "idempotencyKey" TEXT;

-- AlterTable
ALTER TABLE "VideoOutput" ADD COLUMN     "archiveAttempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "archiveError" TEXT,
ADD COLUMN     "archivePath" TEXT,
ADD COLUMN     "archiveSha256" TEXT,
ADD COLUMN     "archiveSize" INTEGER,
ADD COLUMN     "archiveStatus" "ArchiveStatus" NOT NULL DEFAULT 'PENDING',
ADD COLUMN     "archivedAt" TIMESTAMP(3),
ADD COLUMN     "nextArchiveAt" TIMESTAMP(3);

-- CreateIndex
CREATE UNIQUE INDEX "Generation_tenantId_idempotencyKey_key" ON "Generation"("tenantId", "idempotencyKey");

-- CreateIndex
CREATE INDEX "VideoOutput_archiveStatus_nextArchiveAt_idx" ON "VideoOutput"("archiveStatus", "nextArchiveAt");
