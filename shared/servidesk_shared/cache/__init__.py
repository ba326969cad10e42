"""The cache every process of a service shares: throttles, sign-in lockouts, short memos.

Django's cache (``django.core.cache.cache``) is what DRF's throttles, accounts' lockout
counters and web's memos of API names use. ``servidesk_shared.settings.cache_config``
makes it shared by every replica of a service:

* by default the **database cache** in the service's own database (table
  ``servidesk_cache``): no new component, and a replica that reaches its database reaches
  its counters. The table is made by this app's migration, so ``manage.py migrate`` is the
  only step (compose, the Kubernetes migration Jobs and ``make up`` run nothing else);
* **Redis** when ``CACHE_URL`` names one (``redis://host:6379/0``; needs the ``redis``
  package), with the service's name as key prefix so services can share one server.

Counting is exact across replicas: accounts' lockout counts with ``cache.add`` then
``cache.incr``, and ``incr`` is atomic in both backends (Redis's own ``INCRBY``; the
database cache's is ``backends.DatabaseCache.incr``, under a row lock). DRF's throttles
keep a list of timestamps they read and write back: exact for requests one after the other
whichever replica answers; two requests landing in the same milliseconds may both pass.
"""
