"""Complaint lifecycle: status sync, deadlines in Indonesian working days, reporter updates, escalation."""
