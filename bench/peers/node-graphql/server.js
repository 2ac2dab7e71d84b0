// The catalog's write side as the JavaScript world would build it: Apollo Server 4 on
// graphql-js, kafkajs with acks -1 and an idempotent producer, one record per mutation, no
// transactions, and an in-memory id -> version map. It is the bench's second write baseline
// (bench/peer.py): the same schema (schema/command.graphql), the same bearer tokens, the same
// input validation and refusals, records in the same CloudEvents shape, so the bench can send
// it the very bodies it sends ours.
//
// Env: PORT, KAFKA_BOOTSTRAP_SERVERS, PEER_TOPIC (where it appends), CATALOG_TOPIC (read once
// at start to know the catalog's products and versions), JWT_SECRET.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { GraphQLError } from 'graphql';
import jwt from 'jsonwebtoken';
import { Kafka, logLevel } from 'kafkajs';

const env = process.env;
const typeDefs = readFileSync(new URL('../../../schema/command.graphql', import.meta.url), 'utf8');
const kafka = new Kafka({
  clientId: 'catalog-bench-node-peer',
  brokers: env.KAFKA_BOOTSTRAP_SERVERS.split(','),
  logLevel: logLevel.ERROR,
});
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const versions = new Map(); // product id -> { version, deleted }

function refuse(code, message, extensions = {}) {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

function badInput(field, message) {
  return refuse('BAD_USER_INPUT', `${field}: ${message}`, { field });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SKU = /^[A-Za-z0-9_-]{1,64}$/;
const AMOUNT = /^\d{1,18}(?:\.\d{1,18})?$/;
const minorUnits = new Map();

function minorUnit(currency) {
  if (!minorUnits.has(currency)) {
    try {
      const format = new Intl.NumberFormat('en', { style: 'currency', currency });
      minorUnits.set(currency, format.resolvedOptions().maximumFractionDigits);
    } catch {
      minorUnits.set(currency, null);
    }
  }
  return minorUnits.get(currency);
}

function text(field, value, max, { optional = false } = {}) {
  if (value === undefined || (value === null && optional)) return;
  if (typeof value !== 'string' || value.length > max || (max !== 5000 && !value.trim())) {
    throw badInput(field, `must be 1-${max} characters`);
  }
}

function money(price) {
  const currency = String(price.currency).trim().toUpperCase();
  const digits = /^[A-Z]{3}$/.test(currency) ? minorUnit(currency) : null;
  if (digits === null) throw badInput('price.currency', `'${price.currency}' is not an ISO-4217 currency code`);
  if (!AMOUNT.test(price.amount)) throw badInput('price.amount', "amount must be a non-negative decimal string such as '12.50'");
  const [whole, decimals = ''] = price.amount.split('.');
  if (decimals.length > digits) throw badInput('price.amount', `${currency} allows at most ${digits} decimal places`);
  return { currency, amount: digits ? `${whole}.${decimals.padEnd(digits, '0')}` : whole };
}

function tags(value) {
  if (value === undefined || value === null) return value === null ? [] : undefined;
  if (value.length > 20) throw badInput('tags', 'at most 20 tags');
  value.forEach((tag) => text('tags', tag, 50));
  return value;
}

function validateChanges(input) {
  text('name', input.name, 200, { optional: false });
  if ('name' in input && input.name === null) throw badInput('name', 'cannot be cleared');
  if ('price' in input && input.price === null) throw badInput('price', 'cannot be cleared');
  text('description', input.description, 5000, { optional: true });
  text('category', input.category, 100, { optional: true });
  text('brand', input.brand, 100, { optional: true });
  const data = {};
  for (const field of ['name', 'description', 'category', 'brand']) {
    if (field in input) data[field] = input[field];
  }
  if (input.price) data.price = money(input.price);
  const tagList = tags(input.tags);
  if (tagList !== undefined) data.tags = tagList;
  return data;
}

async function append(type, version, id, data, commandId, subject, correlationId) {
  const eventId = randomUUID();
  const [written] = await producer.send({
    topic: env.PEER_TOPIC,
    acks: -1,
    messages: [{
      key: id,
      value: JSON.stringify({ id, ...data }),
      headers: {
        ce_specversion: '1.0', ce_id: eventId, ce_source: '/catalog/node-peer',
        ce_type: `catalog.${type}.v2`, ce_time: new Date().toISOString(), ce_subject: id,
        'content-type': 'application/json', ce_sequence: String(version),
        ce_correlationid: correlationId, ce_causationid: commandId,
        ce_authtype: 'app_user', ce_authid: subject,
      },
    }],
  });
  return { id, version, eventId, position: { partition: written.partition, offset: written.baseOffset } };
}

const resolvers = {
  Query: { ping: () => 'pong' },
  Mutation: {
    async createProduct(_, { input }, context) {
      const id = input.id ?? randomUUID();
      if (!UUID.test(id)) throw badInput('id', 'must be a UUID');
      if (!SKU.test(input.sku)) throw badInput('sku', "1-64 letters, digits, '-' or '_'");
      const data = validateChanges(input);
      if (versions.has(id)) throw refuse('ALREADY_EXISTS', `product ${id} already exists`);
      versions.set(id, { version: 1, deleted: false });
      const full = { sku: input.sku, description: null, category: null, tags: [], brand: null, ...data };
      return append('ProductCreated', 1, id, full, input.commandId ?? randomUUID(), context.subject, context.correlationId);
    },
    async updateProduct(_, { input }, context) {
      const data = validateChanges(input);
      const product = versions.get(input.id);
      if (!product) throw refuse('NOT_FOUND', `product ${input.id} does not exist`);
      if (product.deleted) throw refuse('PRODUCT_DELETED', `product ${input.id} was deleted`);
      if (input.expectedVersion != null && input.expectedVersion !== product.version) {
        throw refuse('CONCURRENCY_CONFLICT', `expected version ${input.expectedVersion} but the product is at version ${product.version}`,
          { expectedVersion: input.expectedVersion, actualVersion: product.version });
      }
      product.version += 1;
      return append('ProductUpdated', product.version, input.id, data, input.commandId ?? randomUUID(), context.subject, context.correlationId);
    },
    async deleteProduct(_, { input }, context) {
      const product = versions.get(input.id);
      if (!product) throw refuse('NOT_FOUND', `product ${input.id} does not exist`);
      if (product.deleted) throw refuse('PRODUCT_DELETED', `product ${input.id} was deleted`);
      product.version += 1;
      product.deleted = true;
      return append('ProductDeleted', product.version, input.id, {}, input.commandId ?? randomUUID(), context.subject, context.correlationId);
    },
  },
};

// The catalog's products and versions, from the log the bench's own services write.
async function loadCatalog() {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(env.CATALOG_TOPIC);
  await admin.disconnect();
  const remaining = new Map(ends.filter((p) => Number(p.high) > 0).map((p) => [p.partition, Number(p.high)]));
  if (remaining.size === 0) return;
  const consumer = kafka.consumer({ groupId: `catalog-bench-node-peer-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: env.CATALOG_TOPIC, fromBeginning: true });
  // Caught up when each partition's last record is at its end (a transaction's commit marker
  // may follow it), or when nothing more has come for two seconds.
  let lastBatch = Date.now();
  await new Promise((resolve) => {
    const idle = setInterval(() => {
      if (Date.now() - lastBatch > 2000) { clearInterval(idle); resolve(); }
    }, 250);
    consumer.run({
      eachBatch: async ({ batch }) => {
        lastBatch = Date.now();
        for (const message of batch.messages) {
          const id = message.key.toString();
          const version = Number(message.headers.ce_sequence.toString());
          const deleted = message.headers.ce_type.toString().startsWith('catalog.ProductDeleted');
          versions.set(id, { version, deleted });
        }
        const end = remaining.get(batch.partition);
        if (end !== undefined && Number(batch.lastOffset()) + 2 >= end) remaining.delete(batch.partition);
        if (remaining.size === 0) { clearInterval(idle); resolve(); }
      },
    });
  });
  await consumer.disconnect();
}

await producer.connect();
await loadCatalog();
const server = new ApolloServer({ typeDefs, resolvers, introspection: false });
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(env.PORT), host: '127.0.0.1' },
  context: async ({ req }) => {
    const header = req.headers.authorization ?? '';
    try {
      const claims = jwt.verify(header.replace(/^Bearer /, ''), env.JWT_SECRET, { algorithms: ['HS256'] });
      return { subject: claims.sub, correlationId: req.headers['x-correlation-id'] ?? randomUUID() };
    } catch {
      throw new GraphQLError('a valid bearer token is required', {
        extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
      });
    }
  },
});
console.log(`node peer ready at ${url} (${versions.size} products)`);
