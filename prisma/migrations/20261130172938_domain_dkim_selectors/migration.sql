-- AlterTable
ALTER TABLE "Domain" ADD COLUMN     "dkimSelectors" TEXT[] DEFAULT ARRAY[]::TEXT[];
