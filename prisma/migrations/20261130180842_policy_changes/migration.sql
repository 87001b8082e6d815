-- CreateTable
CREATE TABLE "PolicyState" (
    "domainId" UUID NOT NULL,
    "probe" TEXT NOT NULL,
    "state" JSONB NOT NULL,
    "observedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "PolicyState_pkey" PRIMARY KEY ("domainId","probe")
);

-- CreateTable
CREATE TABLE "PolicyChange" (
    "id" BIGSERIAL NOT NULL,
    "domainId" UUID NOT NULL,
    "probe" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "weakening" BOOLEAN NOT NULL,
    "text" TEXT NOT NULL,
    "observedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "PolicyChange_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "PolicyChange_domainId_observedAt_id_idx" ON "PolicyChange"("domainId", "observedAt" DESC, "id" DESC);

-- AddForeignKey
ALTER TABLE "PolicyState" ADD CONSTRAINT "PolicyState_domainId_fkey" FOREIGN KEY ("domainId") REFERENCES "Domain"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PolicyChange" ADD CONSTRAINT "PolicyChange_domainId_fkey" FOREIGN KEY ("domainId") REFERENCES "Domain"("id") ON DELETE CASCADE ON UPDATE CASCADE;
