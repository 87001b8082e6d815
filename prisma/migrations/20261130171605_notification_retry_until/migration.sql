-- AlterTable
ALTER TABLE "Notification" ADD COLUMN     "retryUntil" TIMESTAMP(3);

-- Rows left pending by a version that kept retries in memory had no next-attempt time: due now.
UPDATE "Notification" SET "nextAttemptAt" = CURRENT_TIMESTAMP WHERE "status" = 'pending' AND "nextAttemptAt" IS NULL;
