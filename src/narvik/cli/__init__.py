"""narvik.cli"""
