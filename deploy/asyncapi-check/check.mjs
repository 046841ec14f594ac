// Validates an AsyncAPI document with the AsyncAPI project's own parser (@asyncapi/parser, pinned in package.json).
//
// Input: the document's path (argument 1; default: ../../schemas/asyncapi.json beside this folder).
// Output: one line per error diagnostic (severity 0) on stdout, as `<json path>: <message> [<code>]`, then a count.
// Guarantee: exits 0 only when the parser returned a document and reported no error; 1 otherwise, 2 on bad usage.
// Run by tests/unit/test_asyncapi_parser.py after `npm ci` in this folder.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import parserPackage from '@asyncapi/parser';

const { Parser, DiagnosticSeverity } = parserPackage;
const here = path.dirname(fileURLToPath(import.meta.url));
const documentPath = path.resolve(process.argv[2] ?? path.join(here, '..', '..', 'schemas', 'asyncapi.json'));

if (process.argv.length > 3) {
  console.error('usage: node check.mjs [path/to/asyncapi.json]');
  process.exit(2);
}

const text = await readFile(documentPath, 'utf8');
const { document, diagnostics } = await new Parser().parse(text, { source: documentPath });
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
for (const error of errors) {
  console.log(`${error.path.length ? error.path.join('.') : '(root)'}: ${error.message} [${error.code}]`);
}
console.log(`${path.basename(documentPath)}: ${errors.length} error(s)${document ? '' : ', no document'}`);
process.exit(errors.length === 0 && document ? 0 : 1);
