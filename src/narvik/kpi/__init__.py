"""narvik.kpi"""
