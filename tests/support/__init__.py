"""Helpers the tests import (``tests`` is on pytest's ``pythonpath``); fixtures and hooks stay in conftest.py."""
