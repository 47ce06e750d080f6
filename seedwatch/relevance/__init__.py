"""Relevance of articles to a seed story: topic profiles, the tagger, its evaluation.

Public API::

    profiles = load_profiles(Path("config/topics"), Path("seeds"))
    tag = tag_article(profiles["my_topic"], title=..., text=..., language="en")
"""

from __future__ import annotations

from seedwatch.relevance.profile import (
    Entity,
    Facet,
    ProfileError,
    TopicProfile,
    load_profiles,
)
from seedwatch.relevance.scorer import tag_article

__all__ = ["Entity", "Facet", "ProfileError", "TopicProfile", "load_profiles", "tag_article"]
