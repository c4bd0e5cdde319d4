// One real Node driver through a real PgBouncer: N clients x M rounds of a parametrized query, each in a
// transaction, on a schedule that makes clients share server connections deterministically (see hold() below).
//
// Input (JSON on stdin): {driver: "pg" | "postgres" | "prisma", url, ca, clients, rounds,
//   options: {...}  driver options as the advice gives them (postgres.js: postgres(url, options)),
//   named: bool     node-postgres only: pass `name:` (a named prepared statement) with every query,
//   cacheNames: bool  Prisma only: the adapter's statementNameGenerator (named, cached statements)}
// Output (JSON on stdout): {ok, wrong, errors: [message, ...], servers: distinct server backend pids}.
import fs from 'node:fs'
import pg from 'pg'

const config = JSON.parse(fs.readFileSync(0, 'utf8'))
const ca = fs.readFileSync(config.ca, 'utf8')
const ssl = { ca, rejectUnauthorized: true }
// node-postgres and postgres.js read sslmode from the URL and would override `ssl`: TLS is given as an option.
const url = new URL(config.url)
url.searchParams.delete('sslmode')
const SQL = 'SELECT $1::int + 1 AS r, pg_backend_pid() AS pid'

// Each client: run(value) -> {r, pid}, one transaction holding one parametrized query; end().
async function pgClient() {
  const client = new pg.Client({ connectionString: url.href, ssl })
  await client.connect()
  return {
    async run(v) {
      await client.query('BEGIN')
      try {
        const q = config.named ? { name: 'add_one', text: SQL, values: [v] } : { text: SQL, values: [v] }
        const { rows } = await client.query(q)
        await client.query('COMMIT')
        return rows[0]
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {})
        throw e
      }
    },
    end: () => client.end(),
  }
}

async function postgresJsClient() {
  const { default: postgres } = await import('postgres')
  const sql = postgres(url.href, { ...config.options, ssl, max: 1, onnotice: () => {} })
  return {
    async run(v) {
      const rows = await sql.begin((tx) => tx`SELECT ${v}::int + 1 AS r, pg_backend_pid() AS pid`)
      return rows[0]
    },
    end: () => sql.end({ timeout: 5 }),
  }
}

async function prismaClient() {
  const { PrismaClient } = await import('@prisma/client')
  const { PrismaPg } = await import('@prisma/adapter-pg')
  const adapterOptions = config.cacheNames ? { statementNameGenerator: (q) => `prisma_${hash(q.sql)}` } : {}
  const adapter = new PrismaPg({ connectionString: url.href, ssl, max: 1 }, adapterOptions)
  const prisma = new PrismaClient({ adapter })
  return {
    async run(v) {
      const rows = await prisma.$transaction((tx) => tx.$queryRaw`SELECT ${v}::int + 1 AS r, pg_backend_pid() AS pid`)
      return rows[0]
    },
    end: () => prisma.$disconnect(),
  }
}

function hash(text) {
  let h = 0
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) | 0
  return (h >>> 0).toString(16)
}

const makers = { pg: pgClient, postgres: postgresJsClient, prisma: prismaClient }
const make = makers[config.driver]
if (!make) throw new Error(`unknown driver ${config.driver}; known: ${Object.keys(makers).join(', ')}`)

// The holder is one more client of the pool: an open transaction pins the server connection that was
// released last (PgBouncer reuses idle server connections last-in, first-out), so the next client's
// transaction runs on the *other* server connection of a pool of 2. Nothing is left to timing.
const holder = new pg.Client({ connectionString: url.href, ssl })
await holder.connect()
const hold = () => holder.query('BEGIN; SELECT 1')
const release = () => holder.query('COMMIT')

const clients = []
for (let k = 0; k < config.clients; k++) clients.push(await make())
const result = { ok: 0, wrong: 0, errors: [], servers: [] }
const servers = new Set()
async function once(client, v) {
  try {
    const row = await client.run(v)
    servers.add(Number(row.pid))
    if (Number(row.r) === v + 1) result.ok++
    else result.wrong++
  } catch (e) {
    result.errors.push(String(e.message ?? e))
  }
}
for (let i = 0; i < config.rounds; i++) {
  for (let k = 0; k < clients.length; k++) {
    const v = 1000 * (k + 1) + i
    await once(clients[k], v) // on the server connection released last
    await hold()
    await once(clients[k], v) // on the other one
    await release()
  }
}
for (const c of clients) await c.end()
await holder.end()
result.servers = [...servers].sort()
process.stdout.write(JSON.stringify(result) + '\n')
