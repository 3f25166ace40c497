"""Data quality: a contract's promises as rules, the audit of a staged port version against them,
and the columns a domain's models make, judged from their SQL before anything runs."""
