// Monaco's web workers (GraphiQL's editors), loaded from beside this module: the stand-in for
// GraphiQL's setup-workers/esm.sh, which loads them from a CDN. build.mjs bundles each worker
// into one classic script next to this file.
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const file = { json: 'json.worker.js', graphql: 'graphql.worker.js' }[label] ?? 'editor.worker.js';
    return new Worker(new URL(`./${file}`, import.meta.url));
  },
};
