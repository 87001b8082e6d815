-- AlterTable
ALTER TABLE "Notification" ADD COLUMN     "attemptLog" JSONB NOT NULL DEFAULT '[]';
