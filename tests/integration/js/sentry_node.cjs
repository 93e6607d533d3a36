// The real @sentry/node: a handled error with tags and user, then an uncaught one (the SDK's
// onUncaughtException integration reports it, flushes and exits the process with code 1).
// Usage: node sentry_node.cjs <DSN>. Prints one JSON line per event sent: {"kind": ..., "id": ...}.
'use strict';
const Sentry = require('@sentry/node');

const [dsn] = process.argv.slice(2);
let kind = 'handled';
Sentry.init({
  dsn,
  release: 'shop-node@2.0.0',
  environment: 'staging',
  serverName: 'node-1',
  tracesSampleRate: 0,
  beforeSend(event) {
    process.stdout.write(JSON.stringify({ kind, id: event.event_id }) + '\n');
    return event;
  },
});

function chargeCard(amount) {
  const limit = 100;
  if (amount > limit) {
    throw new RangeError(`amount ${amount} over limit`);
  }
}

async function main() {
  Sentry.setUser({ id: 'u-7', email: 'grace@example.com' });
  Sentry.setTag('region', 'eu-west');
  try {
    chargeCard(250);
  } catch (error) {
    Sentry.captureException(error);
  }
  await Sentry.flush(5000);
  kind = 'uncaught';
  setTimeout(function failLater() {
    throw new TypeError('uncaught boom');
  }, 0);
}

main();
