-- AlterTable
ALTER TABLE "Generation" ADD COLUMN     "webhookOutcome" JSONB;
