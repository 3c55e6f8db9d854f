"""narvik.physics"""
