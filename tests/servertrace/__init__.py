"""Tests for natstrace.servertrace."""
