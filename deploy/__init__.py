"""Deploying oxbridge: replicas behind nginx (``cluster.py``, ``nginx.conf.template``)."""
