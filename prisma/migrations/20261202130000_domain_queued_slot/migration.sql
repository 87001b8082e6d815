-- AlterTable: the slot of the check job last enqueued for a domain on Redis, and when it was
-- enqueued or last found there; null until the queue scheduler claims the domain.
ALTER TABLE "Domain" ADD COLUMN     "queuedAt" TIMESTAMP(3),
ADD COLUMN     "queuedSlot" TIMESTAMP(3);
