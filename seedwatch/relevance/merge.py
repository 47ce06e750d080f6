"""One profile from two sources: what induction drew from the seeds, and the analyst's file.

The merge, in order (``docs/relevance.md`` has the same in prose):

1. **Sides**: the file's ``sides`` if it has them, else the induced ones. An induced
   side maps to the file's side whose entities name that country; else to ``other``.
2. **Entities**: every curated entity stays as written (side, weight, capitalised,
   not_near, facets). An induced entity with the same name (after normalisation) only
   adds its aliases to it (``origin: curated+induced``); the others are added as they
   are (``origin: induced``): the sides' countries in every language, capitals, cities
   the seeds name, the seeds' actors, and every other country, on side ``other`` (so a
   list of countries is seen as one, and ``turkmen`` is not read as ``turk*``).
3. **Facets**: the curated facets, a facet with a lexicon facet's id taking the
   lexicon's cues as well (so a saved draft keeps them); then the lexicon's other facets.
"""

from __future__ import annotations

from dataclasses import replace

from seedwatch.relevance.induce import SURNAME_WEIGHT, InducedActor, Induction, country_entity, place_entity
from seedwatch.relevance.normalize import normalize
from seedwatch.relevance.profile import SIDE_OTHER, Entity, Facet
from seedwatch.relevance.resources import gazetteer, lexicon


def induced_entities(induction: Induction, side_map: dict[str, str]) -> list[Entity]:
    """The seeds' entities with sides renamed by ``side_map`` (induced side → profile side)."""
    entities: list[Entity] = []
    side_codes = {}
    for induced_side, country in induction.side_countries.items():
        side = side_map.get(induced_side, SIDE_OTHER)
        side_codes[country.code] = side
        extra = tuple(induction.seed_forms.get(induced_side, ()))
        entity = country_entity(country, side, kind="place", extra=extra)
        entities.append(replace(entity, origin="induced", note="a side"))
        if country.capital is not None:
            entities.append(
                replace(place_entity(country.capital, side), origin="induced", note=f"capital of {country.name}")
            )
    for induced_side, group in induction.side_groups.items():
        note = "a side: a body or group the seeds name more than any second country"
        entities.append(_actor_entity(group, side_map.get(induced_side, SIDE_OTHER), note))
    seen_cities = {e.name for e in entities}
    for country, city in induction.seed_cities:
        place = next((p for p in (country.capital, *country.cities) if p is not None and p.name == city), None)
        if place is not None and place.name not in seen_cities:
            seen_cities.add(place.name)
            side = side_codes.get(country.code, SIDE_OTHER)
            entities.append(
                replace(place_entity(place, side), origin="induced", note=f"a city of {country.name} the seeds name")
            )
    for actor in induction.actors:
        weight = 1.0 if " " in actor.name or actor.name.isupper() else SURNAME_WEIGHT
        entities.append(_actor_entity(actor, side_map.get(actor.side, SIDE_OTHER), actor.why, weight=weight))
    by_key: dict[str, list[str]] = {}
    for phrase in induction.agreements:
        # "2019 maritime delimitation agreement" and "maritime delimitation agreement": one entity.
        key = normalize(phrase.split(" ", 1)[1] if phrase.split()[0].isdigit() else phrase)
        by_key.setdefault(key, []).append(phrase)
    for phrases in by_key.values():
        name = max(phrases, key=len)
        aliases = tuple(
            dict.fromkeys([name, *phrases, *(p.split(" ", 1)[1] for p in phrases if p.split()[0].isdigit())])
        )
        facets = tuple(induction.agreements[name])  # lexicon facet ids, from induce._agreements
        entities.append(
            Entity(
                name=name,
                kind="agreement",
                side=SIDE_OTHER,
                aliases=aliases,
                facets=facets,
                origin="induced",
                note="an agreement the seeds name (side 'both' if it is between the two sides)",
            )
        )
    for name in induction.embedded:
        entities.append(
            Entity(
                name=name,
                kind="place",
                side=SIDE_OTHER,
                aliases=(name,),
                capitalised=(name,),
                origin="induced",
                note="a place whose name holds a country's: it does not name the country",
            )
        )
    for code, country in gazetteer().items():
        if code not in side_codes:
            outsider = code not in induction.parties
            entity = country_entity(country, SIDE_OTHER, kind="place", forms=False)
            entities.append(replace(entity, origin="induced", note="another country", outsider=outsider))
    return entities


def _actor_entity(actor: InducedActor, side: str, note: str, *, weight: float = 1.0) -> Entity:
    return Entity(
        name=actor.name,
        kind="actor",
        side=side,
        aliases=tuple(actor.aliases),
        weight=weight,
        capitalised=tuple(actor.capitalised),
        origin="induced",
        note=note,
    )


def induced_facets(induction: Induction) -> list[Facet]:
    """The lexicon's facets, those the seeds use first (with the words they use)."""
    order = {facet: rank for rank, facet in enumerate(induction.seed_facets)}
    facets = [
        Facet(
            id=f.id,
            label=f.label,
            cues=f.all_cues,
            generic=f.generic,
            origin="induced",
            in_seeds=tuple(induction.seed_facets.get(f.id, ())),
        )
        for f in lexicon()
    ]
    return sorted(facets, key=lambda f: order.get(f.id, len(order)))


def side_map(induction: Induction, sides: tuple[str, ...], curated: tuple[Entity, ...]) -> dict[str, str]:
    """Induced side → the profile's side: the same id, or the side whose curated entities name the country."""
    mapping = {side: side for side in induction.side_groups if side in sides}
    for induced_side, country in induction.side_countries.items():
        if induced_side in sides:
            mapping[induced_side] = induced_side
            continue
        names = {normalize(n) for n in (country.name, *country.names, *country.demonyms)}
        for entity in curated:
            if entity.side in sides and names & {normalize(a.rstrip("*")) for a in entity.aliases}:
                mapping[induced_side] = entity.side
                break
    return mapping


def merge_induced(
    induction: Induction, sides: tuple[str, ...], curated: tuple[Entity, ...], curated_facets: tuple[Facet, ...]
) -> tuple[tuple[Entity, ...], tuple[Facet, ...]]:
    """The profile's entities and facets: curated ones first, extended by the induced ones."""
    induced = induced_entities(induction, side_map(induction, sides, curated))
    by_name = {normalize(e.name): e for e in induced}
    merged: list[Entity] = []
    used: set[str] = set()
    for entity in curated:
        twin = by_name.get(normalize(entity.name))
        if twin is not None:
            used.add(normalize(entity.name))
            extra = tuple(a for a in twin.aliases if a not in entity.aliases)
            # The twin's proper-noun aliases keep their capital letter in the merged entity.
            capitalised = (*entity.capitalised, *(a for a in twin.capitalised if a in extra))
            entity = replace(entity, aliases=entity.aliases + extra, capitalised=capitalised, origin="curated+induced")
        merged.append(entity)
    curated_aliases = {normalize(a) for e in curated for a in e.aliases}
    for entity in induced:
        if normalize(entity.name) in used:
            continue
        if entity.kind == "actor" and normalize(entity.name) in curated_aliases:
            continue  # the analyst already has this actor, under another canonical name
        merged.append(entity)
    lexicon_facets = {f.id: f for f in induced_facets(induction)}
    facets: list[Facet] = []
    for facet in curated_facets:
        twin = lexicon_facets.pop(facet.id, None)
        if twin is not None:
            cues = (*facet.cues, *(c for c in twin.cues if c not in facet.cues))
            facet = replace(facet, cues=cues, origin="curated+induced", in_seeds=twin.in_seeds)
        facets.append(facet)
    facets += lexicon_facets.values()
    return tuple(merged), tuple(facets)
