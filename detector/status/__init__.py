"""Providers' official incidents (status pages and status feeds), and how far ahead of them we were."""
