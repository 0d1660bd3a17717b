"""Test helpers: a re-implementation of mock's config loader and a fake mock."""
