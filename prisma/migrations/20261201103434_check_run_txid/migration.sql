-- AlterTable: the column first, its default after, so that PostgreSQL does not rewrite the table
-- to fill it (a volatile default is evaluated for every existing row). Runs stored before it stay
-- null: the metrics feed reads them through its reconciliation, as it always did.
ALTER TABLE "CheckRun" ADD COLUMN     "txid" BIGINT;
ALTER TABLE "CheckRun" ALTER COLUMN "txid" SET DEFAULT ((pg_current_xact_id())::text)::bigint;

-- CreateIndex
CREATE INDEX "CheckRun_txid_idx" ON "CheckRun"("txid");
