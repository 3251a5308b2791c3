// The official JavaScript Elasticsearch client (@elastic/elasticsearch 8.x)
// against imdb-search-node: deep paging as the client's users do it.
//
// Usage: node es_client_check.js URL   (NODE_PATH names the node_modules
// folder holding the client; scripts/setup.sh installs it in .local/es-js)
//
// Contract: creates the index `js-docs` (3 shards) on the node at URL,
// loads 3,000 documents with `helpers.bulk`, then checks
// - `helpers.scrollSearch` serves every document exactly once, from the
//   snapshot of its first page (documents written meanwhile are not seen),
//   and clears its scroll at the end;
// - `helpers.scrollDocuments` with a query serves exactly its matches;
// - stopping a scroll early with `clear()` frees it: the id is then a 404;
// - `openPointInTime` + `search` with `pit`, `sort` and `search_after` pages
//   through the point's snapshot in sort order, every document once;
//   `closePointInTime` frees it, and searching it after is a 404
//   `search_context_missing_exception`, as is one whose keep-alive passed.
// Prints one `ok` line and exits 0; on the first mismatch prints what
// differed and exits 1. Run by integration-tests/tests/es_js_client.rs.
'use strict'

const { Client, errors } = require('@elastic/elasticsearch')

const INDEX = 'js-docs'
const DOCS = 3000

class Mismatch extends Error {}

function check (condition, message) {
  if (!condition) throw new Mismatch(message)
}

function doc (n) {
  return { n, group: `g${n % 7}`, title: `document ${n}` }
}

async function load (client, from, to) {
  const docs = []
  for (let n = from; n < to; n++) docs.push(doc(n))
  const result = await client.helpers.bulk({
    datasource: docs,
    onDocument: (d) => ({ index: { _index: INDEX, _id: `d${d.n}` } }),
    flushBytes: 200000
  })
  check(result.successful === to - from && result.failed === 0, `bulk: ${JSON.stringify(result)}`)
  await client.indices.refresh({ index: INDEX })
}

function range (from, to) {
  const ids = new Set()
  for (let n = from; n < to; n++) ids.add(`d${n}`)
  return ids
}

function sameSet (got, want, what) {
  const missing = [...want].filter((id) => !got.has(id))
  const extra = [...got].filter((id) => !want.has(id))
  check(missing.length === 0 && extra.length === 0,
    `${what}: ${missing.length} missing (${missing.slice(0, 5)}), ${extra.length} unexpected (${extra.slice(0, 5)})`)
}

async function expect404 (promise, what) {
  try {
    await promise
  } catch (e) {
    check(e instanceof errors.ResponseError && e.statusCode === 404, `${what}: ${e}`)
    return e
  }
  throw new Mismatch(`${what}: succeeded`)
}

async function scrollAll (client, next) {
  const seen = new Set()
  let pages = 0
  for await (const result of client.helpers.scrollSearch({ index: INDEX, size: 250, sort: ['_doc'] })) {
    pages += 1
    check(result.body.hits.total.value === next.total, `scroll page ${pages}: total ${JSON.stringify(result.body.hits.total)}`)
    for (const hit of result.body.hits.hits) {
      check(!seen.has(hit._id), `scrollSearch served ${hit._id} twice`)
      seen.add(hit._id)
    }
    if (pages === 1) await next.afterFirstPage()
  }
  return { seen, pages }
}

async function run (url) {
  const client = new Client({ node: url, requestTimeout: 60000 })
  const info = await client.info()
  check(String(info.version.number).startsWith('8.'), `info: version ${JSON.stringify(info.version)}`)
  await client.indices.create({
    index: INDEX,
    settings: { number_of_shards: 3 },
    mappings: { properties: { n: { type: 'integer' }, group: { type: 'keyword' }, title: { type: 'text' } } }
  })
  await load(client, 0, DOCS)

  // scrollSearch: documents written after the first page are not seen.
  const { seen, pages } = await scrollAll(client, {
    total: DOCS,
    afterFirstPage: () => load(client, DOCS, DOCS + 100)
  })
  sameSet(seen, range(0, DOCS), 'scrollSearch')
  check(pages === DOCS / 250, `scrollSearch: ${pages} pages`)

  // scrollDocuments with a query: exactly its matches.
  const matched = new Set()
  for await (const d of client.helpers.scrollDocuments({ index: INDEX, size: 300, query: { range: { n: { lt: 1000 } } } })) {
    check(!matched.has(d.n), `scrollDocuments served ${d.n} twice`)
    matched.add(d.n)
  }
  check(matched.size === 1000 && Math.max(...matched) === 999, `scrollDocuments: ${matched.size} documents`)

  // Stopping early: clear() frees the scroll.
  let stoppedId = null
  for await (const result of client.helpers.scrollSearch({ index: INDEX, size: 100 })) {
    stoppedId = result.body._scroll_id
    await result.clear()
  }
  check(stoppedId !== null, 'scrollSearch gave no page')
  const missing = await expect404(client.scroll({ scroll_id: stoppedId, scroll: '1m' }), 'scroll after clear()')
  check(missing.body.error.root_cause[0].type === 'search_context_missing_exception', `scroll after clear(): ${JSON.stringify(missing.body)}`)

  // Point in time + search_after: the point's snapshot, in sort order.
  const pit = await client.openPointInTime({ index: INDEX, keep_alive: '1m' })
  check(typeof pit.id === 'string' && pit.id.length > 0, `openPointInTime: ${JSON.stringify(pit)}`)
  await load(client, DOCS + 100, DOCS + 150)
  const paged = new Set()
  let last = -1
  let searchAfter
  for (;;) {
    const page = await client.search({
      pit: { id: pit.id, keep_alive: '1m' },
      size: 400,
      sort: [{ group: 'asc' }, { n: 'desc' }],
      query: { match_all: {} },
      ...(searchAfter ? { search_after: searchAfter } : {})
    })
    check(page.pit_id === pit.id, `pit search: pit_id ${page.pit_id}`)
    const hits = page.hits.hits
    if (hits.length === 0) break
    for (const hit of hits) {
      check(!paged.has(hit._id), `point in time served ${hit._id} twice`)
      paged.add(hit._id)
      const key = Number(hit._source.group.slice(1)) * 1e6 + (1e6 - hit._source.n)
      check(key > last, `point in time: ${hit._id} out of order`)
      last = key
      check(hit.sort.length === 3, `point in time: sort values ${JSON.stringify(hit.sort)} (the _shard_doc tiebreaker?)`)
    }
    searchAfter = hits[hits.length - 1].sort
  }
  sameSet(paged, range(0, DOCS + 100), 'point in time')
  const closed = await client.closePointInTime({ id: pit.id })
  check(closed.succeeded === true && closed.num_freed === 1, `closePointInTime: ${JSON.stringify(closed)}`)
  const gone = await expect404(client.search({ pit: { id: pit.id }, size: 1 }), 'search of a closed point in time')
  check(gone.body.error.root_cause[0].type === 'search_context_missing_exception', `closed pit: ${JSON.stringify(gone.body)}`)

  // A point in time whose keep-alive passed is gone too.
  const brief = await client.openPointInTime({ index: INDEX, keep_alive: '1s' })
  await new Promise((resolve) => setTimeout(resolve, 2500))
  await expect404(client.search({ pit: { id: brief.id }, size: 1 }), 'search of an expired point in time')

  const now = await client.count({ index: INDEX })
  check(now.count === DOCS + 150, `count: ${now.count}`)
  return `${DOCS} docs; scrollSearch ${pages} pages, scrollDocuments ${matched.size}, point in time ${paged.size}`
}

async function main () {
  if (process.argv.length !== 3) {
    console.error('usage: es_client_check.js URL')
    return 2
  }
  try {
    const summary = await run(process.argv[2])
    // The package exports only its entry point; its package.json sits beside it.
    const manifest = require.resolve('@elastic/elasticsearch').replace(/index\.js$/, 'package.json')
    const version = JSON.parse(require('fs').readFileSync(manifest, 'utf8')).version
    console.log(`es_js_client_check: ok with @elastic/elasticsearch ${version}: ${summary}`)
    return 0
  } catch (e) {
    const detail = e instanceof errors.ResponseError ? ` ${JSON.stringify(e.body)}` : ''
    console.error(`es_js_client_check: ${e instanceof Mismatch ? 'MISMATCH' : 'ERROR'}: ${e.stack || e}${detail}`)
    return 1
  }
}

main().then((code) => { process.exitCode = code })
