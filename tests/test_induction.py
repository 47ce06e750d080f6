"""Profiles drawn from the seeds alone: sides, actors, places, facets, names across
scripts, the merge with a curated file, the draft, cross-validation, and seed-only floors."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from seedwatch.relevance import load_profiles, tag_article
from seedwatch.relevance.crossval import cross_validate
from seedwatch.relevance.draft import draft_yaml
from seedwatch.relevance.evaluate import evaluate, read_items
from seedwatch.relevance.resources import gazetteer, inflections, lexicon, lexicon_languages
from seedwatch.relevance.segments import Text
from seedwatch.relevance.translit import name_key, skeleton

ROOT = Path(__file__).resolve().parents[1]
TOPICS, SEEDS = ROOT / "config/topics", ROOT / "seeds"
DEV = ROOT / "tests/fixtures/relevance/dev.jsonl"
SECOND = ROOT.parent / "shared/data/relevance/topics/china_philippines"
FLOORS = json.loads((ROOT / "tests/floors/relevance_seed_only.json").read_text())
needs_second_topic = pytest.mark.skipif(
    not SECOND.is_dir(), reason=f"second topic not found at {SECOND} (../shared beside the checkout)"
)

# A topic nobody curated, written for this test: two countries, their people, a visit.
CHILE_PERU_SEED = """\
Chile and Peru agree to reopen border talks

LIMA (Reuters) - Chilean Foreign Minister Alberto van Klaveren arrived in Lima on Monday for talks
with his Peruvian counterpart Javier González-Olaechea on the maritime boundary and migration.
Peru's Foreign Minister Javier González-Olaechea said the two countries would set up a joint
commission on the border. Relations between Chile and Peru have improved since the 2014 ruling of
the International Court of Justice on their maritime dispute. Santiago and Lima also discussed
trade and the migrants stranded at the border crossing near Tacna. Chilean President Gabriel Boric
is expected to visit Peru later this year, officials said.
"""


# A body, not a second country, as the other party.
ALLIANCE_SEED = """\
NATO scrambles jets as Russia tests the alliance

BRUSSELS (AP) - NATO said on Wednesday it scrambled fighter jets after Russian military aircraft flew
close to the airspace of its members, the latest in a series of incidents that NATO called provocations.
NATO Secretary General Mark Rutte said Moscow was testing the alliance and that NATO would defend every
inch of allied territory. The Kremlin accused NATO of a military build-up near its borders.
Russian Foreign Minister Sergei Lavrov said relations between Russia and NATO were at their lowest point.
"""


# Names that trip simple rules: two-letter name parts (Xi, Wang Yi), leaders whose names are
# frequent words in general news (Joe Biden), dotted acronyms (U.S.), parties named together
# ("Russia and the United States, Vladimir Putin and Joe Biden"), countries of several words.
PAIRED_NAMES_SEED = """\
United States and China agree to resume military talks

WASHINGTON (AP) - The United States and China agreed on Tuesday to resume military communications,
U.S. Secretary of State Antony Blinken said after meeting Chinese Foreign Minister Wang Yi in Washington.
Blinken said the United States would keep pressing China over its trade practices, and Wang said China
wanted stable relations with the United States. President Joe Biden and Chinese President Xi Jinping are
expected to meet next month. The presidents of Russia and the United States, Vladimir Putin and Joe Biden,
spoke by phone last week. Saudi Arabia and the United Arab Emirates welcomed the thaw. Families of
workers held in Chinese camps during World War II asked for talks, and the talks must go on, Wang told reporters.
"""


@pytest.fixture(scope="module")
def seed_only_lt():
    return load_profiles(TOPICS, SEEDS, seeds_only=True)["libya_turkey"]


@pytest.fixture(scope="module")
def chile_peru(tmp_path_factory):
    seeds = tmp_path_factory.mktemp("seeds")
    (seeds / "chile_peru").mkdir()
    (seeds / "chile_peru/seed.txt").write_text(CHILE_PERU_SEED, encoding="utf-8")
    return load_profiles(seeds.parent / "no-topics", seeds)["chile_peru"]


def _seeded_profile(tmp_path: Path, topic: str, seed: str):  # noqa: ANN202 - a TopicProfile
    """The profile drawn from one seed document alone, in seeds/<topic>/ (no profile file)."""
    (tmp_path / "seeds" / topic).mkdir(parents=True)
    (tmp_path / "seeds" / topic / "seed.txt").write_text(seed, encoding="utf-8")
    return load_profiles(tmp_path / "topics", tmp_path / "seeds")[topic]


def _induced_actors(profile) -> dict:  # noqa: ANN001
    """The actors drawn from the seeds, by name."""
    return {e.name: e for e in profile.entities if e.kind == "actor" and e.origin == "induced"}


def _actor_sides(profile) -> dict[str, str]:  # noqa: ANN001
    return {name: actor.side for name, actor in _induced_actors(profile).items()}


# --- what induction finds -------------------------------------------------------------


def test_sides_actors_and_places_come_from_the_seed(seed_only_lt) -> None:
    assert set(seed_only_lt.sides) == {"libya", "turkey"} and seed_only_lt.profile_file is None
    by_name = {e.name: e for e in seed_only_lt.entities}
    assert by_name["Khalifa Haftar"].side == "libya" and "Haftar" in by_name["Khalifa Haftar"].aliases
    assert by_name["Ibrahim Kalin"].side == "turkey" and by_name["Hakan Fidan"].side == "turkey"
    assert by_name["Libyan Arab Armed Forces"].side == "libya" and "LAAF" in by_name["Libyan Arab Armed Forces"].aliases
    assert by_name["Government of National Accord"].side != "turkey"  # named beside Turkish support, not Turkish
    assert by_name["Ankara"].side == "turkey" and by_name["Benghazi"].side == "libya"
    assert by_name["Egypt"].side == "other" and not by_name["Egypt"].outsider  # a party the seed dwells on
    assert by_name["Japan"].outsider
    agreement = by_name["2019 maritime delimitation agreement"]
    assert agreement.kind == "agreement" and "maritime delimitation agreement" in agreement.aliases
    assert "maritime_territory" in agreement.facets
    seed_facets = [f.id for f in seed_only_lt.facets if f.in_seeds]
    assert {"diplomacy", "military", "relations", "agreements"} <= set(seed_facets)


def test_a_new_seed_directory_is_a_working_monitor(chile_peru) -> None:
    assert set(chile_peru.sides) == {"chile", "peru"} and chile_peru.title in {
        "Chile–Peru relations",
        "Peru–Chile relations",
    }
    actors = _actor_sides(chile_peru)
    assert actors.get("Alberto van Klaveren") == "chile" and actors.get("Gabriel Boric") == "chile"
    relevant = [
        (
            "Chile recalls ambassador from Peru",
            "Santiago recalled its envoy after Lima expelled Chilean diplomats.",
            "en",
        ),
        (
            "Perú y Chile firman acuerdo migratorio",
            "Los cancilleres de Perú y Chile firmaron un acuerdo sobre la frontera.",
            "es",
        ),
        (
            "Il Cile e il Perù firmano un accordo",
            "Il Cile e il Perù hanno firmato un accordo sulla frontiera marittima.",
            "it",
        ),
        (
            "Чили и Перу подписали соглашение",
            "Министры иностранных дел Чили и Перу подписали соглашение о границе.",
            "ru",
        ),
        ("智利與秘魯簽署協議", "智利與秘魯外長簽署邊界協議。", "zh"),
    ]
    for title, text, language in relevant:
        tag = tag_article(chile_peru, title=title, text=text, language=language)
        assert tag.grade == 2, (language, tag.explanation["summary"])
        assert set(tag.explanation["sides"]) == {"chile", "peru"} and tag.explanation["sentences"]
    one_side = tag_article(chile_peru, title="Peru's economy grows", text="Lima's central bank raised rates.")
    assert one_side.grade == 0
    listed = tag_article(
        chile_peru,
        title="Storm hits the Pacific coast",
        text="Flooding was reported in Ecuador, Colombia, Peru, Chile and Bolivia.",
    )
    assert listed.grade == 0, listed.explanation["summary"]


def test_an_outsider_leading_the_headline_is_a_thread_unless_the_headline_names_the_pair(chile_peru) -> None:
    text = "The foreign ministry said the maritime agreement between Chile and Peru ignored its claims."
    thread = tag_article(chile_peru, title="Bolivia sends warship to Peru amid Chile's maritime claims", text=text)
    assert thread.grade == 1 and "another country leads the headline" in thread.explanation["summary"]
    for title in ("Bolivia protests Chile-Peru maritime accord", "Bolivia protests Chile–Peru maritime accord"):
        pair = tag_article(chile_peru, title=title, text=text)
        assert pair.grade == 2, pair.explanation["summary"]


def test_sides_are_found_in_inflected_forms_and_names_in_other_latin_spellings(tmp_path: Path) -> None:
    profile = _seeded_profile(
        tmp_path,
        "cp",
        CHILE_PERU_SEED + "Peruvian Defence Minister Tarek Bakhtari met Chilean officials in Santiago.\n",
    )

    def named(text: str) -> set[str]:
        return {hit.target.entity.name for hit in profile.matcher.find(Text.of(text).norm) if hit.target.entity}

    # The Turkish -li of origin, which no dictionary lists, on the sides' names.
    assert named("Şilili") == {"Chile"} and named("Perulu") == {"Peru"} and named("Şilililer") == {"Chile"}
    tag = tag_article(profile, title="Perulu bakan Şili'de resmi ziyarette", text="", language="tr")
    assert set(tag.explanation["sides"]) == {"chile", "peru"}, tag.explanation["summary"]
    # The adjectives' inflections: French feminine, Polish and Russian cases, Romance plurals.
    forms = set(inflections(("turc", "japonais", "polski", "niemiecki", "японский", "giapponese", "japonês"), ()))
    assert {"turque", "japonaise", "polskiego", "niemieckiej", "японская", "giapponesi", "japonesa"} <= forms
    # Another Latin spelling of a seed name ("Bahteri", as the Turkish press writes it), with a capital only.
    assert "Tarek Bakhtari" in {e.name for e in profile.entities if e.kind == "actor"}
    hits = [(h.target.entity.name, h.target.capitalised) for h in profile.matcher.find(Text.of("Bahteri").norm)]
    assert ("Tarek Bakhtari", True) in hits
    lowercase = tag_article(profile, title="bahteri said nothing", text="")
    assert "Tarek Bakhtari" not in lowercase.explanation["entities"]


def test_an_official_the_seed_ties_to_no_side_is_the_hosts_when_a_guest_of_the_other_side_visits(
    tmp_path: Path,
) -> None:
    profile = _seeded_profile(
        tmp_path,
        "visit",
        "Chile and Peru discuss border\n\nLIMA (AP) - Chilean Foreign Minister Ana Rojas is in Lima for talks "
        "with Defence Minister Luis Quispe and President Marta Vidal. Chile and Peru have disputed the border "
        "since 2014. Quispe said the talks went well, and Vidal said Peru wanted good relations with Chile. "
        "Analyst Jorge Mena said in Santiago and Lima that Rojas and Quispe would meet again.\n",
    )
    actors = _actor_sides(profile)
    assert actors.get("Ana Rojas") == "chile"  # the guest, by her adjective
    assert actors.get("Luis Quispe") == "peru" and actors.get("Marta Vidal") == "peru"  # the hosts, in Lima
    assert actors.get("Jorge Mena", "other") == "other"  # no title, and a sentence in both sides' places
    tag = tag_article(profile, title="Quispe and Rojas sign border accord", text="", language="en")
    assert tag.grade == 2, tag.explanation["summary"]


def test_a_body_named_more_than_any_second_country_is_a_side(tmp_path: Path) -> None:
    profile = _seeded_profile(tmp_path, "alliance", ALLIANCE_SEED)
    assert set(profile.sides) == {"russia", "nato"} and "NATO" in profile.title
    sides = _actor_sides(profile)
    assert sides["Sergei Lavrov"] == "russia" and sides["Mark Rutte"] == "nato"
    assert tag_article(profile, title="NATO warns Russia over drone incursions", text="").grade == 2
    assert tag_article(profile, title="Russia and China hold naval drills", text="").grade == 0


def test_actors_keep_short_and_common_name_parts_and_only_close_sides(tmp_path: Path) -> None:
    profile = _seeded_profile(tmp_path, "pair", PAIRED_NAMES_SEED)
    assert set(profile.sides) == {"united_states", "china"}
    actors, sides = _induced_actors(profile), _actor_sides(profile)
    assert sides.get("Wang Yi") == "china" and sides.get("Xi Jinping") == "china"  # "and Chinese President Xi"
    assert sides.get("Antony Blinken") == "united_states"  # "U.S. Secretary of State"
    assert "Biden" in actors["Joe Biden"].aliases  # a title makes common words a person's name
    assert sides.get("Vladimir Putin") == "other"  # "Russia and the United States, Vladimir Putin"
    assert not {"Saudi Arabia", "United Arab Emirates"} & set(actors)  # countries, not actors
    assert "World War II" not in actors  # "Chinese camps during World War II": not China's, and no name
    assert "Wang" in actors["Wang Yi"].aliases  # the surname of a name written surname first


def test_a_german_seed_keeps_names_and_drops_capitalised_nouns(tmp_path: Path) -> None:
    profile = _seeded_profile(
        tmp_path,
        "de",
        "Chile fordert von Peru Reparationen\n\nSANTIAGO (dpa) - Die chilenische Regierung hat Peru "
        "aufgefordert, über Reparationen zu verhandeln. Außenministerin Ana Rojas übergab eine Note an den "
        "peruanischen Botschafter in Santiago. Reparationen lehnt Lima ab. Der peruanische Präsident Luis "
        "Quispe sagte, die Frage sei abgeschlossen.\n",
    )
    assert set(profile.sides) == {"chile", "peru"}
    actors = _actor_sides(profile)
    assert "Reparationen" not in actors and not any(name.startswith("Außenministerin") for name in actors)
    assert actors.get("Luis Quispe") == "peru" and "Ana Rojas" in actors


def test_names_match_across_scripts(seed_only_lt) -> None:
    assert skeleton("Haftar") == skeleton("حفتر") == skeleton("Хафтар") == skeleton("Χαφτάρ")
    assert skeleton("Duterte") == skeleton("杜特爾特")
    assert name_key(("Kalin",)) is None  # three consonants alone are too weak a key
    tag = tag_article(seed_only_lt, title="وصل المشير خليفة حفتر إلى أنقرة في زيارة رسمية", text="", language="ar")
    assert tag.grade >= 1 and "Khalifa Haftar" in tag.actors


def test_text_without_spaces_is_matched(seed_only_lt) -> None:
    tag = tag_article(seed_only_lt, title="土耳其與利比亞簽署海事協議", text="土耳其外長訪問利比亞。", language="zh")
    assert tag.grade == 2, tag.explanation["summary"]


def test_the_matchers_token_plans_cache_changes_no_hit(seed_only_lt, monkeypatch: pytest.MonkeyPatch) -> None:
    # Plans are cached per token; a warm cache, and one cleared as it fills, find what a cold one finds.
    from seedwatch.relevance import matcher as matcher_module
    from seedwatch.relevance.segments import Text

    texts = [Text.of(f"{item.title}\n{item.text}").norm for item in read_items(DEV)[:60]]
    cold = []
    for text in texts:
        seed_only_lt.matcher._plan_cache.clear()
        cold.append(seed_only_lt.matcher.find(text))
    warm = [seed_only_lt.matcher.find(text) for text in texts]
    monkeypatch.setattr(matcher_module, "PLAN_CACHE_TOKENS", 50)
    churned = [seed_only_lt.matcher.find(text) for text in texts]
    assert sum(map(len, cold)) > 100
    assert warm == cold and churned == cold
    assert len(seed_only_lt.matcher._plan_cache) <= 50 + max(len(set(matcher_module.TOKEN.findall(t))) for t in texts)


def test_a_name_in_chinese_characters_is_an_unbroken_run(seed_only_lt) -> None:
    def actors(text: str) -> set[str]:
        hits = seed_only_lt.matcher.find(Text.of(text).norm)
        return {h.target.entity.name for h in hits if h.target.entity and h.target.entity.kind == "actor"}

    assert "Khalifa Haftar" in actors("哈夫塔爾訪問安卡拉")
    assert not actors("他們維護自己的權利。對於此事")  # characters across a full stop are no name


def test_acronyms_count_only_in_capitals(chile_peru) -> None:
    us = gazetteer()["US"]
    assert "US" in us.names and "U.S." in us.names
    tag = tag_article(chile_peru, title="As Chile and Peru talk", text="As it turned out, nothing was signed.")
    assert "American Samoa" not in tag.explanation["entities"]


# --- generic resources name no topic ---------------------------------------------------

TOPIC_WORDS = re.compile(
    r"\b(libya|libyan|turkey|türkiye|turkiye|haftar|erdo[gğ]an|tripoli|benghazi|ankara|tobruk|sirte|misrata|"
    r"dbeibah|sarraj|kal[iı]n|fidan|china|philippines?|filipino|manila|beijing|duterte|lorenzana)\b|"
    r"ليبيا|تركيا|حفتر|ليبي",
    re.IGNORECASE,
)


def test_no_topic_in_code_or_in_the_lexicon() -> None:
    files = [
        *(ROOT / "seedwatch").rglob("*.py"),
        *(ROOT / "extractors").rglob("*.py"),
        *(ROOT / "dags").rglob("*.py"),
        *(ROOT / "plugins").rglob("*.py"),
        ROOT / "seedwatch/relevance/resources/relations_lexicon.yaml",
    ]
    offenders = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in files for m in TOPIC_WORDS.finditer(p.read_text())]
    assert not offenders, offenders


def test_the_lexicon_covers_every_facet_in_every_language() -> None:
    required = {"en", "fr", "ar", "tr", "es", "it", "pt", "nl", "el", "ru", "id"}
    assert required <= set(lexicon_languages())
    for facet in lexicon():
        assert required <= {lang for lang, cues in facet.cues.items() if cues}, facet.id
        for cue in facet.all_cues:
            assert not cue.endswith("*") or len(cue.rstrip("*")) >= 4, (facet.id, cue)


# --- the merge, the draft, cross-validation ---------------------------------------------


def test_a_curated_file_extends_and_overrides_the_induced_profile(seed_only_lt) -> None:
    curated = load_profiles(TOPICS, SEEDS)["libya_turkey"]
    by_name = {e.name: e for e in curated.entities}
    libya = by_name["Libya"]  # curated place, extended by the gazetteer's names
    assert libya.origin == "curated+induced" and "ليبيا" in libya.aliases and "Libye" in libya.aliases
    assert "not_near" not in libya.note and by_name["Tripoli"].origin in ("curated", "curated+induced")
    assert by_name["Khalifa Haftar"].origin.startswith("curated")
    assert [f.id for f in curated.facets][:3] == ["diplomacy", "military", "maritime"]  # curated first
    assert {"sanctions", "relations"} <= {f.id for f in curated.facets}  # the lexicon's facets too


def test_the_draft_is_a_valid_profile_that_reproduces_induction(tmp_path: Path, seed_only_lt) -> None:
    text = draft_yaml(seed_only_lt)
    assert text.startswith("# ") and "sides:" in text and "# named with" in text
    data = yaml.safe_load(text)
    assert set(data["sides"]) == {"libya", "turkey"} and data["actors"]
    (tmp_path / "topics").mkdir()
    (tmp_path / "topics/libya_turkey.yaml").write_text(text, encoding="utf-8")
    reloaded = load_profiles(tmp_path / "topics", SEEDS)["libya_turkey"]
    assert set(reloaded.sides) == set(seed_only_lt.sides)
    items = read_items(DEV)
    a, b = evaluate(seed_only_lt, items), evaluate(reloaded, items)
    assert abs(a["relevant"]["f1"] - b["relevant"]["f1"]) <= 0.02


def test_cross_validation_fits_thresholds_on_other_folds(seed_only_lt) -> None:
    report = cross_validate(seed_only_lt, read_items(DEV), folds=5)
    assert report["folds"] == 5 and len(report["thresholds"]) == 5
    assert all(0 < t["partial"] < t["relevant"] <= 1 for t in report["thresholds"])
    assert 0 <= report["relevant"]["recall"] <= 1 and report["relevant"]["tp"] > 0


def test_cli_profile_draft_and_seed_only_eval(tmp_path: Path) -> None:
    from seedwatch.cli import app

    runner = CliRunner()
    draft = runner.invoke(app, ["profile", "draft", "libya_turkey"])
    assert draft.exit_code == 0 and "sides:" in draft.output
    refused = runner.invoke(app, ["profile", "draft", "libya_turkey", "--write"])
    assert refused.exit_code == 1 and "exists" in refused.output
    result = runner.invoke(app, ["eval", "relevance", str(DEV), "--topic", "libya_turkey", "--seeds-only", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["relevant"]["recall"] >= FLOORS["libya_turkey"]["relevant_recall_min"]


# --- seed-only floors ---------------------------------------------------------------------


def _check(report: dict, floors: dict) -> None:
    assert report["relevant"]["precision"] >= floors["relevant_precision_min"], report["relevant"]
    assert report["relevant"]["recall"] >= floors["relevant_recall_min"], report["relevant"]
    assert report["relevant_or_partial"]["recall"] >= floors["relevant_or_partial_recall_min"]
    assert report["hard_negatives"]["false_positive_rate"] <= floors["hard_negative_fpr_max"]


def test_libya_turkey_from_its_seed_alone_meets_the_floors(seed_only_lt) -> None:
    floors = FLOORS["libya_turkey"]
    assert hashlib.sha256(DEV.read_bytes()).hexdigest() == floors["data_sha256"], "dev data changed: re-measure"
    _check(evaluate(seed_only_lt, read_items(DEV)), floors)


@needs_second_topic
def test_a_topic_nobody_curated_meets_the_floors_from_its_seed_alone() -> None:
    floors = FLOORS["china_philippines"]
    items = SECOND / "items.jsonl"
    assert hashlib.sha256(items.read_bytes()).hexdigest() == floors["data_sha256"], "items changed: re-measure"
    profile = load_profiles(SECOND / "no-topics", SECOND / "seeds")["china_philippines"]
    assert profile.profile_file is None and set(profile.sides) == {"china", "philippines"}
    _check(evaluate(profile, read_items(items)), floors)
