"""Tests of the operational store (`advocacy.storage`)."""
