// The real rollbar.js browser build (dist/rollbar.umd.js) inside jsdom, with a post_client_item token:
// a console.log (telemetry), then rb.error('Something failed', new TypeError('browser boom')).
// Usage: node browser_client.cjs <item endpoint URL> <post_client_item token>. Prints {"uuid": ..., "response": ...}.
'use strict';
const fs = require('fs');
const path = require('path');
const { JSDOM, VirtualConsole } = require('jsdom');

const [endpoint, accessToken] = process.argv.slice(2);
// The package's "exports" map hides dist/ files from require.resolve; find the package folder instead.
const rollbarDir = path.join(path.dirname(require.resolve('rollbar')), '..');
const bundle = fs.readFileSync(path.join(rollbarDir, 'dist', 'rollbar.umd.js'), 'utf8');
const virtualConsole = new VirtualConsole();
virtualConsole.on('jsdomError', (e) => process.stderr.write(`jsdom: ${e.message}\n`));
const dom = new JSDOM('<!doctype html><html><body></body></html>', {
  url: 'http://localhost:8000/app/page?x=1',
  runScripts: 'outside-only',
  virtualConsole,
});
const { window } = dom;
window.eval(bundle);

// The UMD build exposes the Rollbar class as window.rollbar (and no window.Rollbar).
const rb = window.rollbar.init({
  accessToken,
  endpoint,
  environment: 'production',
  captureUncaught: false,
  captureUnhandledRejections: false,
  payload: { client: { javascript: { code_version: 'abc123', source_map_enabled: true } } },
});

window.console.log('telemetry test');
function inner() { throw new window.TypeError('browser boom'); }
function outer() { inner(); }
const timer = setTimeout(() => { process.stdout.write(JSON.stringify({ error: 'timeout' })); process.exit(2); }, 15000);
try { outer(); } catch (e) {
  const result = rb.error('Something failed', e, { page_custom: 'yes' }, (err, resp) => {
    clearTimeout(timer);
    process.stdout.write(JSON.stringify({ uuid: result.uuid, error: err ? String(err.message || err) : null, response: resp || null }));
    window.close();
  });
}
