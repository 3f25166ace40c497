"""The mesh in its production shape on one machine (`mesh up`): PostgreSQL for the Dagster instance
and the port catalog, an S3 server for the ports, a code server per domain, the daemon and the
webserver, each a process of its own."""
