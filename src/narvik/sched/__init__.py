"""narvik.sched"""
