"""Talking to a running deployment through the webserver's GraphQL API (``licitacao sync``,
other applications): submit, follow and cancel syncs, read the queue."""
