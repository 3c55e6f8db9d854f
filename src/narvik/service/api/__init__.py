"""The HTTP API of the control plane: app factory, routes, auth, schemas, the dashboard.

It reads the database and hands committed submissions and cancels to the scheduler
runtime (:mod:`narvik.service.runtime`); it never changes the pool itself.
"""
