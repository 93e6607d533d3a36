// The real rollbar.js (npm rollbar@3.1.0) on Node: an Error with a cause, and a message with custom data.
// Usage: node node_client.cjs <item endpoint URL> <post_server_item token>. Prints {"error": uuid, "message": uuid, "responses": [...]}.
'use strict';
const Rollbar = require('rollbar');

const [endpoint, accessToken] = process.argv.slice(2);
const rollbar = new Rollbar({
  accessToken,
  endpoint,
  environment: 'staging',
  codeVersion: '1.2.3',
  host: 'node-1',
  captureUncaught: false,
  captureUnhandledRejections: false,
});

const responses = [];
function done(err, resp) {
  responses.push(err ? { error: String(err && err.message) } : resp);
}

function inner() { throw new TypeError('root cause'); }
function outer() {
  try { inner(); } catch (cause) { throw new Error('wrapper', { cause }); }
}

let errorUuid;
try { outer(); } catch (e) {
  errorUuid = rollbar.error(e, { custom_key: 'v' }, done).uuid;
}
const messageUuid = rollbar.info('Hello from node', { route: 'home', answer: 42 }, done).uuid;

rollbar.wait(() => {
  process.stdout.write(JSON.stringify({ error: errorUuid, message: messageUuid, responses }));
});
