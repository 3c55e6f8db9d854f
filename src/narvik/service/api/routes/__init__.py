"""HTTP routes: thin wrappers that parse, call the service layer and shape the answer."""
