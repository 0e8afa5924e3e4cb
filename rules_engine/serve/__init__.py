"""The sidecar: HTTP CloudEvents ingest and durable broker sources around the pure core (docs/sidecar.md)."""
