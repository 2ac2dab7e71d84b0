// Parses an AsyncAPI document with the official parser (@asyncapi/parser) and prints, as JSON,
// its diagnostics and what it understood: channels, messages (payload and headers with every
// $ref resolved) and operations. Exits 1 when the document has errors, 2 on bad usage.
// Run by tests/unit/test_asyncapi.py, which also checks the summary against the code.
import { resolve } from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';

const SEVERITY = ['error', 'warning', 'info', 'hint'];

const [file] = process.argv.slice(2);
if (!file) {
  console.error('usage: node validate.mjs <asyncapi.yaml>');
  process.exit(2);
}

const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, resolve(file)).parse();

const summary = {
  diagnostics: diagnostics.map((d) => ({
    severity: SEVERITY[d.severity] ?? String(d.severity),
    code: String(d.code),
    message: d.message,
    path: d.path.join('.'),
  })),
  document: null,
};

if (document) {
  const bindingOf = (item) => item.bindings().get('kafka')?.value() ?? null;
  summary.document = {
    version: document.version(),
    title: document.info().title(),
    channels: document.channels().all().map((channel) => ({
      id: channel.id(),
      address: channel.address(),
      kafka: bindingOf(channel),
      messages: channel.messages().all().map((message) => ({
        id: message.id(),
        name: message.name(),
        contentType: message.contentType(),
        payload: message.hasPayload() ? message.payload().json() : null,
        headers: message.hasHeaders() ? message.headers().json() : null,
        kafka: bindingOf(message),
        examples: message.examples().all().map((example) => ({
          headers: example.headers(),
          payload: example.payload(),
        })),
      })),
    })),
    operations: document.operations().all().map((operation) => ({
      id: operation.id(),
      action: operation.action(),
      channels: operation.channels().all().map((channel) => channel.id()),
      messages: operation.messages().all().map((message) => message.id()),
    })),
  };
}

process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
// exitCode, not exit(): exit() would cut off the JSON once it outgrows the pipe's buffer (64 KiB).
process.exitCode = summary.diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
