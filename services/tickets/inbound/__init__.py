"""Inbound mail: the support mailbox read into tickets and comments (``manage.py fetch_mail``)."""
