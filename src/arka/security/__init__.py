"""Security: principals and roles, authentication (JWT, API keys), rate limits, the
hash-chained audit log, and encryption at rest of evaluation records."""
