"""Local tooling: the embedded cluster, local Stripe/SMTP, the dev runner, the test runner, migrations,
the SQL docs generator and the CLI. The runtime (app, controllers, worker, effects) imports none of it."""
