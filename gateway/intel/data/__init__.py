"""Data shipped with the intel package: the slang list, its licence, the domain abbreviations."""
