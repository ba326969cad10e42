"""Local development: DEBUG on, SQLite and the embedded broker unless configured."""

from servidesk_shared.settings import local

from .base import *

local.apply(globals())
