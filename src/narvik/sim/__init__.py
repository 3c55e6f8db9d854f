"""narvik.sim"""
