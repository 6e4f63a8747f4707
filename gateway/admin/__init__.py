"""Administration: credential storage, tokens and roles, the audit trail, the admin API and web console."""
