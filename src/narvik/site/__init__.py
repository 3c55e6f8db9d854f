"""narvik.site"""
