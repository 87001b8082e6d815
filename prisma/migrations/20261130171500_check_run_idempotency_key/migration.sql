-- AlterTable
ALTER TABLE "CheckRun" ADD COLUMN     "idempotencyKey" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "CheckRun_idempotencyKey_key" ON "CheckRun"("idempotencyKey");
