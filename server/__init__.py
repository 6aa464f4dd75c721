"""The treatygraph web app: endpoint, entity pages and dumps over the last good build."""
