"""Tests: the real PostgreSQL, a throwaway key pair, fast hashing, email kept in memory."""

from servidesk_testing import service_settings as testing

from .base import *

testing.apply(globals())
