// Builds GraphiQL for the services' /graphql explorer into dist/, from the exact npm packages of
// package-lock.json, so that the page loads nothing from a CDN.
//
// ariadne's ExplorerGraphiQL page imports bare module names ('react', 'react-dom/client',
// 'graphiql', '@graphiql/toolkit', 'graphiql/setup-workers/esm.sh') through an import map that
// points at esm.sh. This builds one ES module per name (shared code split into chunks, so React
// exists once), the three Monaco workers, and GraphiQL's stylesheet, and writes
// dist/manifest.json: which file stands for which name. The services rewrite the page's import
// map and stylesheet link with it (shared/adapters/graphql_http/explorer.py) and serve dist/.
import { createRequire } from 'node:module';
import { mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
const require = createRequire(import.meta.url);

// Module name in the page -> what its module re-exports.
const MODULES = {
  react: { cjs: 'react' },
  'react-dom/client': { cjs: 'react-dom/client' },
  graphiql: { esm: 'graphiql' },
  '@graphiql/toolkit': { esm: '@graphiql/toolkit' },
  'graphiql/setup-workers/esm.sh': { file: './setup-workers.js' },
};
const WORKERS = {
  'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
  'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
  'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
};
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function entrySource({ cjs, esm, file }) {
  if (file) return `import ${JSON.stringify(file)};`;
  if (esm) return `export * from ${JSON.stringify(esm)};`;
  // CommonJS (React): an ES module needs its export names spelled out, so take them from the
  // package itself, as a CDN's converter does.
  const names = Object.keys(require(cjs)).filter((n) => IDENTIFIER.test(n) && n !== 'default');
  return [
    `import m from ${JSON.stringify(cjs)};`,
    'export default m;',
    `export const { ${names.join(', ')} } = m;`,
  ].join('\n');
}

const entryName = (name) => name.replace(/^@/, '').replace(/[^\w.-]+/g, '-');
const entries = Object.fromEntries(
  Object.keys(MODULES).map((name) => [entryName(name), `entry:${name}`]),
);

// Entries are generated in memory; CSS imported from JS is dropped, because GraphiQL's own
// dist/style.css (copied as is) already holds every rule, Monaco's included.
const virtualEntries = {
  name: 'virtual-entries',
  setup(build) {
    build.onResolve({ filter: /^entry:/ }, (args) => ({
      path: args.path.slice('entry:'.length),
      namespace: 'entry',
    }));
    build.onLoad({ filter: /.*/, namespace: 'entry' }, (args) => ({
      contents: entrySource(MODULES[args.path]),
      resolveDir: here,
      loader: 'js',
    }));
    build.onResolve({ filter: /\.css$/ }, (args) => ({ path: args.path, namespace: 'no-css' }));
    build.onLoad({ filter: /.*/, namespace: 'no-css' }, () => ({ contents: '', loader: 'js' }));
  },
};

const common = {
  bundle: true,
  minify: true,
  legalComments: 'linked',
  target: 'es2022',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
  absWorkingDir: here,
};

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await esbuild.build({
  ...common,
  entryPoints: entries,
  outdir: out,
  format: 'esm',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [virtualEntries],
});
await esbuild.build({
  ...common,
  entryPoints: WORKERS,
  outdir: out,
  format: 'iife',
  plugins: [virtualEntries],
});
await copyFile(require.resolve('graphiql/style.css'), join(out, 'style.css'));

const lock = JSON.parse(await readFile(join(here, 'package-lock.json'), 'utf8'));
const version = (name) => lock.packages[`node_modules/${name}`].version;
const manifest = {
  imports: Object.fromEntries(Object.keys(MODULES).map((name) => [name, `${entryName(name)}.js`])),
  stylesheet: 'style.css',
  versions: Object.fromEntries(
    ['graphiql', '@graphiql/react', '@graphiql/toolkit', 'graphql', 'react', 'react-dom'].map(
      (name) => [name, version(name)],
    ),
  ),
};
await writeFile(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
