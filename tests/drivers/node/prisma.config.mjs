// Prisma 7 reads its configuration here; the driver tests pass the connection to the pg adapter in run.mjs.
import { defineConfig } from 'prisma/config'

export default defineConfig({ schema: 'prisma/schema.prisma' })
