#!/bin/sh
# `prisma generate` only needs the wasm in the npm packages; the CLI would still download a schema engine binary
# from binaries.prisma.sh at start-up (no network for that here or in CI). PRISMA_SCHEMA_ENGINE_BINARY points here
# instead: these tests never run migrations, so the schema engine is never needed.
echo "no Prisma schema engine in the driver tests (migrations are not part of them)" >&2
exit 1
