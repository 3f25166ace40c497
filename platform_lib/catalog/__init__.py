"""The mesh experience plane's catalog: every product with its ports, contracts, owners, status and
neighbours, as one set of facts (`facts`) shown three ways: the `mesh catalog` command, a static
site, and JSON files beside the pages (the discovery and observability ports)."""
