"""Relevance: normalisation, profiles, the tagger's verdicts, the CLI bodies, and the dev-set floors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedwatch.relevance import ProfileError, load_profiles, tag_article
from seedwatch.relevance.cli import eval_relevance, profile_show, tag_file
from seedwatch.relevance.evaluate import evaluate, read_items
from seedwatch.relevance.normalize import normalize, normalize_with_offsets

ROOT = Path(__file__).resolve().parents[1]
TOPICS, SEEDS = ROOT / "config/topics", ROOT / "seeds"
FIXTURES = ROOT / "tests/fixtures/relevance"
DEV = FIXTURES / "dev.jsonl"
FLOORS = json.loads((ROOT / "tests/floors/relevance.json").read_text())


@pytest.fixture(scope="module")
def profile():
    return load_profiles(TOPICS, SEEDS)["libya_turkey"]


# --- normalisation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Kalın", "Kalin"),
        ("KALIN", "kalin"),
        ("İstanbul", "istanbul"),
        ("Türkiye", "Turkiye"),
        ("Çavuşoğlu", "Cavusoglu"),
        ("Libią", "libia"),
        ("أنقرة", "انقره"),  # alef with hamza, taa marbuta
        ("إسطنبول", "اسطنبول"),
        ("حَفْتَر", "حفتر"),  # short vowels
        ("حفـــتر", "حفتر"),  # tatweel
        ("Libya’s", "libya's"),
    ],
)
def test_normalize_folds_spellings_together(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


def test_offsets_map_back_to_the_source_when_lengths_change() -> None:
    text = "Straße حَفْتَـر Kalın"
    norm, offsets = normalize_with_offsets(text)
    start = norm.index("حفتر")
    assert text[offsets[start] : offsets[start + 3] + 1] == "حَفْتَـر"
    assert len(offsets) == len(norm) + 1


# --- the libya_turkey profile --------------------------------------------------------


def test_profile_has_sides_facets_actors_and_seed_terms(profile) -> None:
    assert profile.sides == ("libya", "turkey")
    assert {f.id for f in profile.facets} >= {
        "diplomacy",
        "military",
        "maritime",
        "haftar_family",
        "economy",
        "opposition",
    }
    sides = {e.name: e.side for e in profile.actors}
    assert sides["Khalifa Haftar"] == "libya" and sides["Hakan Fidan"] == "turkey"
    assert "haftar" in profile.seed_terms  # derived from the seed against general news
    assert "said" not in profile.seed_terms


def test_the_seed_itself_is_relevant_with_explained_sentences(profile) -> None:
    seed = next(SEEDS.glob("libya_turkey/*.txt")).read_text()
    tag = tag_article(profile, title="Haftar plans to visit Turkiye after thaw", text=seed, language="en")
    assert tag.grade == 2 and tag.score >= 0.9
    assert {"diplomacy", "military", "maritime"} <= set(tag.facets)
    assert "Khalifa Haftar" in tag.actors and "Ibrahim Kalın" in tag.actors
    assert tag.explanation["sides"]["libya"] and tag.explanation["sides"]["turkey"]
    json.dumps(tag.explanation)  # JSON-serialisable
    for sentence in tag.explanation["sentences"]:
        for term in sentence["terms"]:  # spans give the exact surface, for highlighting
            assert sentence["text"][term["start"] : term["end"]] == term["text"]


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Haftar forces clash with Dbeibah militias in Tripoli", "Fighting in Tripoli and Benghazi; Sirte quiet."),
        ("Erdoğan meets Fidan in Ankara", "Turkish ministers discussed the economy and Istanbul elections."),
        ("Thanksgiving turkey prices soar", "A turkey costs more this year; avian flu hit farms."),
        ("Boat sinks off Tripoli", "Migrants drowned near Tripoli, Lebanon, after leaving the Syrian coast."),
        (
            "Libya'da sel felaketi: Derne'de binlerce kişi hayatını kaybetti",
            "Kurtarma ekipleri enkaz altında arama yapıyor.",
        ),
        ("أردوغان يستقبل رئيس الوزراء اليوناني في أنقرة", "بحث الجانبان العلاقات الثنائية بين تركيا واليونان."),
        ("قتلى في اشتباكات في طرابلس شمال لبنان", "اندلعت اشتباكات في مدينة طرابلس اللبنانية."),
        # Libya's foreign minister in Turkish: "Dışişleri" here is Libyan, not Turkish.
        ("Libya Dışişleri Bakanı Menguş istifa etti", "Libya Dışişleri Bakanı Necla Menguş görevden alındı."),
        # Turkish common words that are also names: kalın (thick), fidan (sapling).
        ("Libya'da kalın duvarlı evler", "Trablus'ta kalın duvarlar ve fidan dikimi sürüyor; yardım ve işbirliği."),
    ],
)
def test_one_side_or_a_lexical_trap_is_not_relevant(profile, title: str, text: str) -> None:
    assert tag_article(profile, title=title, text=text).grade == 0


@pytest.mark.parametrize(
    ("title", "text", "language"),
    [
        (
            "وقعت حكومة الوفاق الليبية مذكرتي تفاهم أمنية وبحرية مع تركيا",
            "وقع السراج وأردوغان في إسطنبول مذكرة تفاهم بشأن التعاون الأمني والعسكري.",
            "ar",
        ),
        (
            "Hafter'in oğlu Saddam Ankara'yı ziyaret etti",
            "Türkiye ile Libya arasında askeri işbirliği görüşüldü; Saddam Hafter Savunma Bakanı ile bir araya geldi.",
            "tr",
        ),
        (
            "Turcja wysyła wojska do Libii",
            "Parlament Turcji zgodził się na wysłanie żołnierzy do Libii, by wesprzeć rząd w Trypolisie.",
            "pl",
        ),
        (
            "MİT Başkanı İbrahim Kalın Bingazi'de",
            "Kalın, Bingazi'de Saddam Hafter ile askeri işbirliğini görüştü.",
            "tr",
        ),
        (
            "TBMM, Libya tezkeresini kabul etti",
            "Türk Silahlı Kuvvetlerinin Libya'daki görev süresi 24 ay uzatıldı.",
            "tr",
        ),
        (
            "حفتر يزور أنقرة ويلتقي أردوغان",
            "بحث المشير خليفة حفتر مع الرئيس التركي رجب طيب أردوغان التعاون العسكري بين البلدين.",
            "ar",
        ),
        (
            "الدبيبة يستقبل وزير الخارجية التركي هاكان فيدان في طرابلس",
            "ناقش الجانبان العلاقات الثنائية والاستثمارات التركية في ليبيا.",
            "ar",
        ),
        (
            "Турция направит войска в Ливию",
            "Эрдоган заявил, что турецкие военные будут поддерживать правительство в Триполи.",
            "ru",
        ),
        (
            "Athènes dénonce l'accord maritime turco-libyen",
            "La Grèce juge illégal le mémorandum signé entre Ankara et Tripoli.",
            "fr",
        ),
    ],
)
def test_relations_in_other_languages_are_relevant(profile, title: str, text: str, language: str) -> None:
    tag = tag_article(profile, title=title, text=text, language=language)
    assert tag.grade == 2, tag.explanation["summary"]


def test_spans_point_at_the_original_text_in_vocalised_arabic(profile) -> None:
    title = "المشيرُ حَفْتَر يزورُ أنقرةَ لبحث التعاون العسكري مع تركيا"
    tag = tag_article(profile, title=title, text="", language="ar")
    assert tag.grade == 2
    terms = tag.explanation["sentences"][0]["terms"]
    assert {"حَفْتَر", "أنقرةَ", "تركيا"} <= {t["text"] for t in terms}
    for term in terms:
        assert title[term["start"] : term["end"]] == term["text"]


def test_turkey_as_an_attribute_is_not_central(profile) -> None:
    tag = tag_article(
        profile,
        title="Egypt warns it may intervene in Libya",
        text="Egypt's president warned that an attack on Sirte by Turkish-backed forces would cross a red line "
        "and trigger a military intervention. Egypt backs the eastern forces of Haftar. Ankara did not comment.",
    )
    assert tag.grade == 1, tag.explanation["summary"]


@pytest.mark.parametrize(
    ("grade", "title", "text"),
    [
        # A clause giving Turkey a role in Libya, in a piece about something else: partial.
        (
            1,
            "Libya's rival governments agree on a ceasefire",
            "The Tripoli government and Haftar agreed a ceasefire in Geneva. Turkey, which backs Tripoli, and "
            "Egypt, which backs Haftar, welcomed the deal. Russia and the UAE did not comment.",
        ),
        # Turkish drones as instruments of a Libyan battle: partial.
        (
            1,
            "GNA forces retake al-Watiya air base",
            "Forces loyal to the Tripoli government retook the al-Watiya air base on Monday, helped by Turkish "
            "drones that struck Haftar's supply lines. The LNA said it withdrew to regroup.",
        ),
        # Turkey as an attribute in the title, in three languages: partial.
        (1, "Turkish-backed forces advance on Sirte", ""),
        (1, "Türkiye destekli UMH güçleri Sirte'ye ilerliyor", ""),
        (1, "قوات الوفاق المدعومة من تركيا تتقدم نحو سرت", ""),
        # Arabic suffixes: "قواتها" (its forces) is a military cue.
        (2, "تركيا تمدد بقاء قواتها في ليبيا", ""),
        # Both named, but only in a list of countries: nothing.
        (0, "Turkey and Libya among countries hit by heatwave", "Heat hit Turkey, Greece, Italy, Libya and Egypt."),
    ],
)
def test_roles_instruments_and_lists(profile, grade: int, title: str, text: str) -> None:
    tag = tag_article(profile, title=title, text=text)
    assert tag.grade == grade, tag.explanation["summary"]


def test_a_passing_mention_is_at_most_partial(profile) -> None:
    text = (
        "The summit discussed climate finance and debt relief for three days. "
        "Delegates from Brazil and India agreed on a fund. "
        "In a side remark, the minister noted that Turkey sent troops to Libya in 2020. "
        "The next summit will be held in Nairobi."
    )
    tag = tag_article(profile, title="Climate summit ends with a deal on finance", text=text)
    assert tag.grade <= 1


# --- a second topic: seeds plus a profile file, no code --------------------------------


def test_second_topic_loads_and_tags_without_code() -> None:
    profiles = load_profiles(FIXTURES / "topics", FIXTURES / "seeds")
    assert set(profiles) == {"chagos", "seeds_only_demo"}
    chagos = profiles["chagos"]
    relevant = tag_article(
        chagos,
        title="Britain and Mauritius sign Chagos treaty",
        text="The UK handed sovereignty over the Chagos Islands to Mauritius in a treaty signed in London.",
    )
    assert relevant.grade == 2 and "sovereignty" in relevant.facets
    assert tag_article(chagos, title="Mauritius budget", text="Port Louis raised taxes.").grade == 0
    seeds_only = profiles["seeds_only_demo"]
    assert seeds_only.sides == () and seeds_only.profile_file is None
    near = tag_article(
        seeds_only, title="Alps glacier melt", text="The Aletsch glacier lost record ice, glaciologists said."
    )
    far = tag_article(seeds_only, title="Football", text="The striker scored twice in the cup final.")
    assert near.score > far.score and far.grade == 0


def test_profile_errors_name_the_file_the_key_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "seeds/demo").mkdir(parents=True)
    (tmp_path / "seeds/demo/000.txt").write_text("A seed.")
    (tmp_path / "topics").mkdir()
    bad = tmp_path / "topics/demo.yaml"
    bad.write_text("sides: [a, b]\nactors:\n  - name: X\n    side: c\n")
    with pytest.raises(ProfileError, match=r"demo\.yaml: actors\[0\]\.side: 'c' is not one of"):
        load_profiles(tmp_path / "topics", tmp_path / "seeds")
    bad.write_text("sides: [a, b]\nactorz: []\n")
    with pytest.raises(ProfileError, match=r"demo\.yaml: unknown key\(s\) \['actorz'\]"):
        load_profiles(tmp_path / "topics", tmp_path / "seeds")
    (tmp_path / "topics/orphan.yaml").write_text("title: x\n")
    bad.write_text("title: fine\n")
    with pytest.raises(ProfileError, match=r"orphan\.yaml: profile has no seeds"):
        load_profiles(tmp_path / "topics", tmp_path / "seeds")


# --- CLI bodies ---------------------------------------------------------------------


def test_cli_eval_json_tag_and_profile_show(capsys, tmp_path: Path) -> None:
    assert eval_relevance(DEV, "libya_turkey", True, TOPICS, SEEDS) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["items"] == 219 and "confusion" in report and report["worst_mistakes"]
    sample = tmp_path / "sample.jsonl"
    sample.write_text("\n".join(DEV.read_text().splitlines()[:5]) + "\n")
    assert tag_file(sample, "libya_turkey", TOPICS, SEEDS) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 5 and all({"id", "grade", "score", "explanation"} <= set(line) for line in lines)
    profile_show("libya_turkey", TOPICS, SEEDS)
    assert "Khalifa Haftar" in capsys.readouterr().out
    assert eval_relevance(DEV, "no_such_topic", True, TOPICS, SEEDS) == 2


# --- regression floors on the dev set --------------------------------------------------


def test_dev_set_meets_the_pinned_floors(profile) -> None:
    assert hashlib.sha256(DEV.read_bytes()).hexdigest() == FLOORS["data_sha256"], "dev data changed: re-measure"
    report = evaluate(profile, read_items(DEV))
    assert report["relevant"]["precision"] >= FLOORS["relevant_precision_min"]
    assert report["relevant"]["recall"] >= FLOORS["relevant_recall_min"]
    assert report["relevant_or_partial"]["recall"] >= FLOORS["relevant_or_partial_recall_min"]
    assert report["relevant_or_partial"]["precision"] >= FLOORS["relevant_or_partial_precision_min"]
    assert report["hard_negatives"]["false_positive_rate"] <= FLOORS["hard_negative_fpr_max"]


# --- properties ---------------------------------------------------------------------

_WORDS = ["Libya", "Turkey", "Türkiye", "حَفْتَر", "تركيا", "Ankara", "Straße", "troops", "visit", "İstanbul", "ß", "ـ"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=8)), max_size=30).map(" ".join),
    st.lists(st.sampled_from([*_WORDS, ".", "\n", ", ", " and "]), max_size=12).map(" ".join),
)
def test_any_text_gets_a_consistent_verdict_and_exact_spans(profile, text: str, title: str) -> None:
    tag = tag_article(profile, title=title, text=text)
    assert 0.0 <= tag.score <= 1.0
    expected = 2 if tag.score >= profile.thresholds.relevant else 1 if tag.score >= profile.thresholds.partial else 0
    assert tag.grade == expected
    json.dumps(tag.explanation)
    for sentence in tag.explanation["sentences"]:
        for term in sentence["terms"]:
            assert sentence["text"][term["start"] : term["end"]] == term["text"]
