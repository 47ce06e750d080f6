"""``seedwatch profile draft``: the induced profile as a commented YAML file for an analyst.

The draft is in the ``config/topics/<topic>.yaml`` schema. Saved there, it becomes the
curated profile, and the merge (:mod:`.merge`) still adds what the resources give: each
country's names in every language, the relations lexicon's cues. So the draft lists only
what an analyst decides on: the sides, the actors and their sides, places, the facets.
"""

from __future__ import annotations

import json

from seedwatch.relevance.profile import SIDE_OTHER, TopicProfile

_HEADER = """\
# {title}: a profile drawn by seedwatch from the seeds alone ({seeds}).
#
# Review it, edit it, and save it as config/topics/{name}.yaml: it then extends and
# overrides what seedwatch draws from the seeds. You need not list what the generic
# resources add on their own: each country's name in every CLDR language, its demonyms
# and adjectives, its capital's names in every script, and the relations lexicon's cue
# words in 18 languages (seedwatch/relevance/resources/). Add what they cannot know:
# the actors' other spellings (Cyrillic, Arabic, Chinese...), nicknames, bodies, places.
#
# Alias syntax: matched after normalisation (case, diacritics, Arabic letter forms);
# a trailing * makes the last word a prefix. capitalised: aliases that count only with
# a capital letter. weight: how much one mention counts (default 1).
"""


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def draft_yaml(profile: TopicProfile) -> str:
    """The profile as commented YAML: induced entries with the reason induction gave."""
    induction = profile.induction
    seeds = ", ".join(p.name for p in profile.seed_files)
    lines = [_HEADER.format(title=profile.title, seeds=seeds, name=profile.name)]
    lines.append(f"title: {_q(profile.title)}")
    if len(profile.sides) != 2:
        lines.append("# The seeds name no two parties: write the two sides yourself, e.g. sides: [a, b]")
        lines.append("sides: []")
    else:
        mentions = induction.country_mentions if induction else {}
        counts = ", ".join(
            f"{c.name} {mentions.get(c.code, 0):.0f}" for c in (induction.side_countries.values() if induction else ())
        )
        groups = ", ".join(f"{g.name} {g.mentions}" for g in (induction.side_groups.values() if induction else ()))
        lines.append(
            f"# The parties the seeds name most (weighted mentions: {counts}{'; ' + groups if groups else ''})."
        )
        lines.append(f"sides: {_list(profile.sides)}")
    lines.append(f"thresholds: {{relevant: {profile.thresholds.relevant}, partial: {profile.thresholds.partial}}}")
    lines.append("")
    lines.append("# Facets of the relation. The lexicon's cues are added to each; the seeds use the words shown.")
    lines.append("facets:")
    for facet in profile.facets:
        lines.append(f"  - id: {facet.id}")
        lines.append(f"    label: {_q(facet.label)}")
        if facet.generic:
            lines.append("    generic: true  # too common to tie the sides on their own")
        seen = facet.in_seeds or tuple(c for c in facet.cues if facet.origin == "curated")
        lines.append(f"    cues: {_list(list(seen)[:20])}" + ("" if facet.in_seeds else "  # not in the seeds"))
    for key, kind in (("actors", "actor"), ("places", "place"), ("agreements", "agreement")):
        entities = [e for e in profile.entities if e.kind == kind and _worth_listing(profile, e)]
        if not entities:
            continue
        lines.append("")
        lines.append(f"{key}:")
        for entity in entities:
            if entity.note:
                lines.append(f"  # {entity.note}")
            lines.append(f"  - name: {_q(entity.name)}")
            lines.append(f"    side: {entity.side}")
            aliases = [a for a in entity.aliases if a != entity.name]
            if entity.note == "a side" or entity.note.startswith(("capital", "a city", "another")):
                aliases = [a for a in aliases if a.isascii()][:8]  # the rest comes from the gazetteer
            if aliases:
                lines.append(f"    aliases: {_list(aliases)}")
            capitalised = [a for a in entity.capitalised if a in aliases]
            if capitalised:
                lines.append(f"    capitalised: {_list(capitalised)}")
            if entity.weight != 1.0:
                lines.append(f"    weight: {entity.weight}")
    return "\n".join(lines) + "\n"


def _worth_listing(profile: TopicProfile, entity) -> bool:
    """Every curated or seed-drawn entry; of the other countries only those the seeds name."""
    if entity.side != SIDE_OTHER or entity.note != "another country":
        return True
    from seedwatch.relevance.resources import gazetteer

    mentions = profile.induction.country_mentions if profile.induction else {}
    code_of = {country.name: code for code, country in gazetteer().items()}
    return mentions.get(code_of.get(entity.name, ""), 0) > 0
