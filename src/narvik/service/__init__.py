"""The live control plane: the narvik scheduler behind an authenticated HTTP API on a database."""
