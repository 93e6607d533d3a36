"""Protocol-neutral queries over the read models: every read API (Rollbar's, AppSignal's, CrashLog's
/locate, the console, alerts) renders what these return, and none reads another's views."""
