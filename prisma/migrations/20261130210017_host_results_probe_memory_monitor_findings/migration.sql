-- AlterTable
ALTER TABLE "CheckRun" ADD COLUMN     "facts" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- AlterTable
ALTER TABLE "Finding" ALTER COLUMN "domainId" DROP NOT NULL;

-- AlterTable
ALTER TABLE "ProbeResult" ADD COLUMN     "hostResultId" BIGINT,
ALTER COLUMN "details" DROP NOT NULL;

-- CreateTable
CREATE TABLE "HostResult" (
    "id" BIGSERIAL NOT NULL,
    "digest" TEXT NOT NULL,
    "probe" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "reason" TEXT,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "details" JSONB NOT NULL,

    CONSTRAINT "HostResult_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ProbeMemory" (
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ProbeMemory_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "HostResult_digest_key" ON "HostResult"("digest");

-- CreateIndex
CREATE INDEX "HostResult_startedAt_idx" ON "HostResult"("startedAt");

-- CreateIndex
CREATE INDEX "ProbeMemory_updatedAt_idx" ON "ProbeMemory"("updatedAt");

-- CreateIndex
CREATE INDEX "ProbeResult_hostResultId_idx" ON "ProbeResult"("hostResultId");

-- AddForeignKey
ALTER TABLE "ProbeResult" ADD CONSTRAINT "ProbeResult_hostResultId_fkey" FOREIGN KEY ("hostResultId") REFERENCES "HostResult"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- A result row holds its details or references the host-level result that does, never neither
-- (a reference whose HostResult was not there makes the whole run's statement fail, not vanish).
ALTER TABLE "ProbeResult" ADD CONSTRAINT "ProbeResult_details_or_host_result" CHECK (("details" IS NULL) <> ("hostResultId" IS NULL));
