"""narvik.workload"""
