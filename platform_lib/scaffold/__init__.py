"""The data product experience plane's scaffolding: `mesh new domain` and `mesh new product` write
the YAML, SQL and registrations a domain team would otherwise copy by hand. What they write passes
`mesh check`, loads and materializes as is; the team then edits the SQL and the contract."""
