"""Tests: the real PostgreSQL, a throwaway key pair, fast hashing, email kept in memory."""

from servidesk_shared.settings import testing

from .base import *

testing.apply(globals())
