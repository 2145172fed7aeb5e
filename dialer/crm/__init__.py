"""CRM sync: adapters (LeadVertex, generic), the pull, the result outbox, the fake LeadVertex."""
