"""The scheduler runtime of the control plane: the engine (:class:`narvik.engine.Pool`)
driven by the wall clock, each pass persisted in one transaction.

It never imports the HTTP API (:mod:`narvik.service.api`): the API posts to it.
"""
