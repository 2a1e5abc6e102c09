"""AutoDoctor booking backend: Litestar API, outbox worker, Stripe/email adapters and the CLI."""
