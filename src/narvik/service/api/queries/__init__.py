"""The service layer: every query and change of the API, as plain functions over a session."""
